"""Poll content in several languages: which languages a poll's text may be written in,
how translations are checked, and which text a reader gets.

A poll is written in its own language (``Poll.language``): its ``title``,
``description`` and its options' ``label`` and ``description`` are in that language,
and they are what the bulletin board, the signed results and every recount carry.
Translations ride alongside in ``translations`` (``{"ko": {"title": ...}}``) and only
change what a reader is shown. See docs/decisions/poll-content-languages.md.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.html import escape, format_html
from django.utils.translation import gettext as _

from voting.errors import Code, DomainError

# Every language Encore ships an interface in (issue 13). The database refuses any other
# key in ``translations``; the editor and the API offer the ones in settings.LANGUAGES,
# which must stay within this list (a test holds the two together).
CONTENT_LANGUAGES = ("en", "ko", "ja", "zh-hans", "es", "pt-br", "id", "th")
LANGUAGE_CODE_PATTERN = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")

POLL_TRANSLATED_FIELDS = ("title", "description")
OPTION_TRANSLATED_FIELDS = ("label", "description")
# The same limits as the fields they translate.
MAX_LENGTHS = {"title": 200, "label": 200, "description": 5000}


def offered_languages() -> tuple[str, ...]:
    """The languages an agency may write a poll in: the interface's languages."""
    return tuple(code for code, _name in settings.LANGUAGES)


def language_name(code: str) -> str:
    """The language's name in the reader's language ("Korean", "한국어" for a Korean reader)."""
    for known, name in settings.LANGUAGES:
        if known == code:
            return str(name)
    return code


def reader_language(code: str | None = None) -> str:
    """The offered language closest to ``code`` (default: the active one); the site's
    default language if none is close (``zh-CN`` → ``zh-hans``, ``pt`` → ``pt-br``
    where offered)."""
    code = code or translation.get_language() or settings.LANGUAGE_CODE
    try:
        return translation.get_supported_language_variant(code.lower())
    except LookupError:
        return settings.LANGUAGE_CODE


class UnknownLanguage(DomainError):
    """A translation in a language Encore does not offer."""

    def __init__(self, codes: list[str]):
        super().__init__(
            Code.UNKNOWN_LANGUAGE,
            _("Unknown language codes: %(codes)s. Use one of: %(offered)s.")
            % {"codes": ", ".join(codes), "offered": ", ".join(offered_languages())},
            languages=codes,
        )


def check_language(code: Any) -> str:
    """``code`` if it is an offered language; raises ``unknown_language`` otherwise."""
    if not isinstance(code, str) or code not in offered_languages():
        raise UnknownLanguage([str(code)[:20]])
    return code


def translations_cleaned(value: Any, *, fields: tuple[str, ...]) -> tuple[dict, dict[str, list[str]]]:
    """Translations as stored, and field problems (``{"translations": [...]}``).

    Blank texts are dropped, and languages left with no text; unknown languages raise
    ``unknown_language`` (before any other problem, with the codes named). A translation
    in the object's own language is checked by the caller, who knows that language.
    """
    if value in (None, ""):
        return {}, {}
    if not isinstance(value, Mapping):
        return {}, {
            "translations": [
                _('Give an object by language: {"ko": {"%(field)s": "..."}}.') % {"field": fields[0]}
            ]
        }
    unknown = sorted(str(code)[:20] for code in value if code not in offered_languages())
    if unknown:
        raise UnknownLanguage(unknown)
    cleaned: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for code in sorted(value):
        texts = value[code]
        if texts in (None, ""):
            continue
        if not isinstance(texts, Mapping):
            problems.append(_("%(code)s: give an object of texts.") % {"code": code})
            continue
        extra = sorted(str(name)[:40] for name in texts if name not in fields)
        if extra:
            problems.append(
                _("%(code)s: unknown fields %(names)s.") % {"code": code, "names": ", ".join(extra)}
            )
            continue
        kept = {}
        for name in fields:
            text = texts.get(name)
            if text is None:
                continue
            if not isinstance(text, str) or "\x00" in text:
                problems.append(_("%(code)s: %(name)s must be text.") % {"code": code, "name": name})
                continue
            text = text.strip()
            if len(text) > MAX_LENGTHS[name]:
                problems.append(
                    _("%(code)s: %(name)s has at most %(n)s characters.")
                    % {"code": code, "name": name, "n": MAX_LENGTHS[name]}
                )
            elif text:
                kept[name] = text
        if kept:
            cleaned[code] = kept
    return cleaned, ({"translations": problems} if problems else {})


@dataclass(frozen=True)
class LocalizedText:
    """A text as shown to one reader, and the language it is really in."""

    text: str
    language: str
    wanted: str

    @property
    def is_fallback(self) -> bool:
        return self.language != self.wanted

    def __str__(self) -> str:
        return self.text

    def __html__(self) -> str:
        """Escaped, and marked with its language when it is not the reader's (WCAG
        3.1.2), so that ``{{ text }}`` in a template is right by itself."""
        if not self.is_fallback or not self.text:
            return escape(self.text)
        return format_html('<span lang="{}">{}</span>', self.language, self.text)


def localized(
    obj, field: str, *, language: str | None = None, own_language: str | None = None
) -> LocalizedText:
    """``obj.field`` in the reader's language if the agency translated it, else in the
    object's own language (a poll's ``language``; an option's poll's). Pass
    ``own_language`` for an option whose poll is not loaded, to save a query."""
    wanted = reader_language(language)
    if own_language is None:
        own_language = obj.language if hasattr(obj, "language") else obj.poll.language
    base = getattr(obj, field)
    if wanted != own_language:
        text = (obj.translations or {}).get(wanted, {}).get(field)
        if text:
            return LocalizedText(text=text, language=wanted, wanted=wanted)
    return LocalizedText(text=base, language=own_language, wanted=wanted)
