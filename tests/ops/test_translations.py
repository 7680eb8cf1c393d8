"""Every shipped language is complete, and pages, mails and API answers speak it.

The catalogue check extracts the messages of the code and templates again (as
``make messages`` does) into a copy of the project, so the catalogues in the repository
are never touched, and names every entry that is missing, untranslated or fuzzy in a
shipped language. It needs GNU gettext (``make gettext`` installs it).
"""

import os
import re
import shutil
from collections import Counter
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path

import django
import polib
import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.template import Context, Template
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import avoid_wrapping, escape
from django.utils.translation import get_language_info, to_locale

from tests.factories import PollFactory, UserFactory
from tests.helpers import FAN_PASSWORD, ROOT
from voting.bot_friction import form_stamp

ENGLISH = settings.LANGUAGE_CODE
LANGUAGES = [code for code, _name in settings.LANGUAGES]
TRANSLATED = [code for code in LANGUAGES if code != ENGLISH]

# "Sign up", as a fan of each language expects to read it in the header of every page.
SIGN_UP = {
    "en": "Sign up",
    "ko": "회원가입",
    "ja": "新規登録",
    "zh-hans": "注册",
    "es": "Registrarse",
    "pt-br": "Cadastrar-se",
    "id": "Daftar",
    "th": "สมัครสมาชิก",
}

# allauth's verification mail (its catalogue), and a refusal of the API (ours).
VERIFICATION_SUBJECT = "Please Confirm Your Email Address"
VERIFICATION_GREETING = "Hello from %(site_name)s!"
NO_SUCH_POLL = "No such poll."
NOT_AUTHENTICATED = "Authentication credentials were not provided."
# Django's, on the sign-up page and the poll cards.
PASSWORD_NOT_NUMERIC = "Your password can’t be entirely numeric."  # noqa: RUF001 (Django's apostrophe)
DAYS = ("%(num)d day", "%(num)d days")
# django-countries', in the profile's country list.
SOUTH_KOREA = "South Korea"

# What must match between a message and its translation: named and positional
# %-placeholders, brace placeholders, HTML tags.
PLACEHOLDER = re.compile(r"%\([a-zA-Z_]\w*\)[sdif]|%[sdif%]|\{[a-zA-Z_]?\w*\}|</?[a-zA-Z][^>]*>")

# Languages not written in Latin letters, and what they still write as in English.
NON_LATIN = {"ko", "ja", "zh-hans", "th"}
SAME_IN_EVERY_SCRIPT = {"IP", "slug"}

# Not sources: what the copy for the extraction leaves out.
NOT_SOURCES = {".git", ".venv", "var", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache"}
NOT_SOURCES |= {".hypothesis", ".import_linter_cache"}


def catalogue_path(base, code):
    return base / "locale" / to_locale(code) / "LC_MESSAGES" / "django.po"


def shipped_catalogue(code) -> polib.POFile:
    return polib.pofile(str(catalogue_path(ROOT, code)))


def key(entry) -> tuple[str | None, str]:
    return (entry.msgctxt, entry.msgid)


def _not_sources(directory, names):
    skipped = [name for name in names if name in NOT_SOURCES]
    if os.path.samefile(directory, ROOT / "bench"):
        skipped.append("results")
    return skipped


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict[str, polib.POFile]:
    """makemessages --all, as `make messages` runs it, in a copy of the project: the
    shipped catalogues merged with every message the code and templates use today."""
    copy = tmp_path_factory.mktemp("messages") / "encore"
    shutil.copytree(ROOT, copy, symlinks=True, ignore=_not_sources)
    here = os.getcwd()
    os.chdir(copy)
    try:
        with override_settings(LOCALE_PATHS=[copy / "locale"]):
            call_command(
                "makemessages",
                all=True,
                no_obsolete=True,
                ignore_patterns=["var", "node_modules"],
                verbosity=0,
            )
    finally:
        os.chdir(here)
    return {
        code: polib.pofile(str(catalogue_path(copy, code)))
        for code in TRANSLATED
        if catalogue_path(copy, code).exists()
    }


def test_every_shipped_language_has_a_catalogue(extracted):
    missing = [f"{code}: {catalogue_path(ROOT, code)}" for code in TRANSLATED if code not in extracted]

    assert not missing, "Languages of settings.LANGUAGES without a catalogue:\n" + "\n".join(missing)


def test_every_message_of_the_code_is_translated_in_every_shipped_language(extracted):
    problems = []
    for code, fresh in extracted.items():
        shipped = {key(entry) for entry in shipped_catalogue(code) if not entry.obsolete}
        for entry in fresh:
            if entry.obsolete:
                continue
            where = entry.occurrences[0][0] if entry.occurrences else "?"
            if key(entry) not in shipped:
                problems.append(f"{code}: not in the catalogue: {entry.msgid!r} ({where})")
            elif "fuzzy" in entry.flags:
                problems.append(f"{code}: fuzzy: {entry.msgid!r} ({where})")
            elif not entry.translated():
                problems.append(f"{code}: untranslated: {entry.msgid!r} ({where})")

    assert not problems, (
        f"{len(problems)} catalogue entries need a translation (make messages, translate, "
        "make messages again):\n" + "\n".join(problems)
    )


def _placeholders(text: str) -> Counter:
    return Counter(PLACEHOLDER.findall(text))


@pytest.mark.parametrize("code", TRANSLATED)
def test_translations_keep_the_placeholders_and_tags_of_their_message(code):
    problems = []
    for entry in shipped_catalogue(code):
        if entry.obsolete or not entry.translated():
            continue
        if entry.msgid_plural:
            allowed = _placeholders(entry.msgid) | _placeholders(entry.msgid_plural)
            forms = [entry.msgstr_plural[index] for index in sorted(entry.msgstr_plural)]
            for form in forms:
                if set(_placeholders(form)) - set(allowed):
                    problems.append(f"{entry.msgid_plural!r} -> {form!r}")
            # The last form is the one for many (the only one in Korean, Japanese, ...).
            if set(_placeholders(entry.msgid_plural)) - set(_placeholders(forms[-1])):
                problems.append(f"{entry.msgid_plural!r} -> {forms[-1]!r}")
        elif _placeholders(entry.msgid) != _placeholders(entry.msgstr):
            problems.append(f"{entry.msgid!r} -> {entry.msgstr!r}")

    assert not problems, f"{code}: translations whose placeholders differ:\n" + "\n".join(problems)


@pytest.mark.parametrize("code", [code for code in TRANSLATED if code in NON_LATIN])
def test_catalogues_in_other_scripts_have_no_english_copied_in(code):
    """A translation that is the English message again is untranslated, however
    msgfmt counts it (some library catalogues copy the English)."""
    copied = [
        entry.msgid
        for entry in shipped_catalogue(code)
        if entry.translated()
        and entry.msgstr == entry.msgid
        and entry.msgid not in SAME_IN_EVERY_SCRIPT
        and re.search("[A-Za-z]{3}", PLACEHOLDER.sub("", entry.msgid))
    ]

    assert not copied, f"{code}: English left as the translation:\n" + "\n".join(copied)


@pytest.mark.parametrize("code", TRANSLATED)
def test_compiled_catalogue_matches_its_source(code):
    """The .mo files are committed (a fresh clone needs no gettext to serve every
    language): each must be compiled from its .po as it is now."""
    source = shipped_catalogue(code)
    compiled = polib.mofile(str(catalogue_path(ROOT, code).with_suffix(".mo")))

    def translations(entries):
        return {
            key(entry): entry.msgstr or tuple(entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural))
            for entry in entries
        }

    # msgfmt leaves fuzzy entries out, and the header is not a message.
    usable = [entry for entry in source.translated_entries() if "fuzzy" not in entry.flags]
    assert translations(entry for entry in compiled if entry.msgid) == translations(usable), (
        f"run make messages: {code}'s .mo is stale"
    )


def test_library_messages_are_still_worded_as_the_libraries_word_them(extracted):
    """voting/library_messages.py holds messages of Django, DRF and django-countries whose catalogues lack
    a shipped language: each must still be a message of the library installed, or its
    translation would never be looked up."""
    site = Path(django.__file__).resolve().parent.parent
    english = [
        *polib.pofile(str(site / "django/conf/locale/en/LC_MESSAGES/django.po")),
        *polib.pofile(str(site / "django/contrib/auth/locale/en/LC_MESSAGES/django.po")),
        *polib.mofile(str(site / "rest_framework/locale/en/LC_MESSAGES/django.mo")),
        *polib.pofile(str(site / "django_countries/locale/en/LC_MESSAGES/django.po")),
    ]
    known = {entry.msgid for entry in english}
    listed = [
        entry.msgid
        for entry in next(iter(extracted.values()))
        if entry.occurrences
        and all(path == "voting/library_messages.py" for path, _line in entry.occurrences)
    ]

    assert listed, "voting/library_messages.py was not extracted"
    assert not [msgid for msgid in listed if msgid not in known]


# ------------------------------------------------------------------ pages and mails


def translated(code: str, message: str) -> str:
    """``message`` in ``code``, which must differ from the English unless ``code`` is
    English. (A variable, never a literal, goes to gettext here: the extraction reads
    this file too.)"""
    with translation.override(code):
        text = translation.gettext(message)
    if code != ENGLISH:
        assert text != message, f"{message!r} is not translated into {code}"
    return text


def expected_in(code: str, message: str) -> str:
    return escape(translated(code, message))


@pytest.mark.django_db
@pytest.mark.parametrize("code", LANGUAGES)
@pytest.mark.parametrize(
    ("page", "message"),
    [
        ("home", "Fan votes you can recount"),
        ("poll", "How to vote"),
        # allauth's own pages, in its catalogue.
        ("account_login", "Sign In"),
        ("account_signup", "Sign Up"),
    ],
)
def test_pages_render_in_the_accept_language(client, code, page, message):
    path = f"/polls/{PollFactory().slug}/" if page == "poll" else reverse(page)

    response = client.get(path, headers={"Accept-Language": code})

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert f'<html lang="{code}">' in html
    assert response["Content-Language"] == code
    assert SIGN_UP[code] in html
    assert expected_in(code, message) in html


@pytest.mark.django_db
def test_language_switcher_names_every_language_in_itself(client):
    html = client.get("/", headers={"Accept-Language": "en"}).content.decode()

    for code in LANGUAGES:
        name = escape(get_language_info(code)["name_local"])
        assert f'<option value="{code}" lang="{code}"' in html
        assert f">{name}</option>" in html
    assert "简体中文" in html and "ภาษาไทย" in html


@pytest.mark.django_db
@pytest.mark.parametrize("code", LANGUAGES)
def test_sign_up_mail_is_written_in_the_language_of_the_sign_up(client, code):
    response = client.post(
        reverse("account_signup"),
        {
            "email": f"fan-{code}@example.com",
            "password1": FAN_PASSWORD,
            "password2": FAN_PASSWORD,
            "shown_at": form_stamp(),
        },
        headers={"Accept-Language": code},
    )

    assert response.status_code == HTTPStatus.FOUND
    message = mail.outbox[-1]
    assert message.subject == f"[Encore] {translated(code, VERIFICATION_SUBJECT)}"
    site_name = response.wsgi_request.get_host()  # no sites framework: the host is the name
    assert translated(code, VERIFICATION_GREETING) % {"site_name": site_name} in message.body
    # The page that follows speaks the same language.
    page = client.get(response["Location"], headers={"Accept-Language": code}).content.decode()
    assert f'<html lang="{code}">' in page


@pytest.mark.django_db
@pytest.mark.parametrize("code", LANGUAGES)
def test_library_words_for_fans_are_translated_too(client, code):
    """Django's own words: the password rules under the sign-up form, and how long until
    a poll closes (Django's Thai catalogue has neither: Encore's supplies them)."""
    signup = client.get(reverse("account_signup"), headers={"Accept-Language": code}).content.decode()
    now = timezone.now()
    with translation.override(code):
        closes_in = Template("{{ when|timeuntil:now }}").render(
            Context({"when": now + timedelta(days=6), "now": now})
        )
        days = translation.ngettext(*DAYS, 6) % {"num": 6}

    assert expected_in(code, PASSWORD_NOT_NUMERIC) in signup
    if code != ENGLISH:
        assert days != "6 days"
    assert closes_in == avoid_wrapping(days)


@pytest.mark.django_db
@pytest.mark.parametrize("code", LANGUAGES)
def test_country_list_of_the_profile_is_in_the_accounts_language(client, code):
    client.force_login(UserFactory(preferred_language=code))

    html = client.get(reverse("profile")).content.decode()

    assert f'<html lang="{code}">' in html
    assert f'<option value="KR">{expected_in(code, SOUTH_KOREA)}</option>' in html


# ------------------------------------------------------------------ choosing the language


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept_language", "code"),
    [
        ("zh-CN", "zh-hans"),
        ("zh-Hans", "zh-hans"),
        ("zh", "zh-hans"),
        ("zh-SG", "zh-hans"),
        ("zh-Hans-CN,zh;q=0.9", "zh-hans"),
        ("pt", "pt-br"),
        ("pt-BR", "pt-br"),
        ("pt-PT", "pt-br"),
        ("id-ID,id;q=0.9,en;q=0.8", "id"),
        ("th-TH", "th"),
        ("ko-KR", "ko"),
        ("es-MX", "es"),
        ("fr-FR,pt;q=0.8", "pt-br"),
        ("de-DE", "en"),
    ],
)
def test_accept_language_falls_back_to_the_nearest_shipped_language(client, accept_language, code):
    html = client.get("/", headers={"Accept-Language": accept_language}).content.decode()

    assert f'<html lang="{code}">' in html
    assert SIGN_UP[code] in html


@pytest.mark.django_db
def test_the_accounts_language_comes_before_accept_language(client):
    client.force_login(UserFactory(preferred_language="th"))

    html = client.get("/", headers={"Accept-Language": "ko"}).content.decode()

    assert '<html lang="th">' in html
    assert expected_in("th", "My votes") in html


@pytest.mark.django_db
def test_the_switchers_choice_comes_before_the_accounts_language(client):
    client.force_login(UserFactory(preferred_language="th"))

    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    html = client.get(response["Location"], headers={"Accept-Language": "ko"}).content.decode()

    assert '<html lang="zh-hans">' in html


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["zh-hans", "pt-br", "id", "th"])
def test_profile_accepts_every_shipped_language(code):
    from accounts.forms import ProfileForm

    user = UserFactory()
    form = ProfileForm(
        data={"display_name": "Mina", "country": "", "preferred_language": code, "time_zone": "UTC"},
        instance=user,
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["preferred_language"] == code


# ------------------------------------------------------------------ the API


@pytest.mark.django_db
@pytest.mark.parametrize("code", LANGUAGES)
def test_api_refusals_are_worded_in_the_accept_language_with_the_same_code(client, code):
    response = client.get("/api/v1/polls/no-such-poll/", headers={"Accept-Language": code})

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Language"] == code
    body = response.json()
    assert body["code"] == "not_found"
    assert body["detail"] == translated(code, NO_SUCH_POLL)


@pytest.mark.django_db
@pytest.mark.parametrize("code", LANGUAGES)
def test_api_framework_refusals_are_worded_in_the_accept_language_too(client, code):
    """Django REST framework's own words (its Korean catalogue is never found for "ko",
    its Thai and Indonesian ones are partial: Encore's supplies them)."""
    poll = PollFactory()

    response = client.post(
        f"/api/v1/polls/{poll.slug}/votes/",
        {"choices": []},
        content_type="application/json",
        headers={"Accept-Language": code},
    )

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"code": "not_authenticated", "detail": translated(code, NOT_AUTHENTICATED)}
