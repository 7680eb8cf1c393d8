"""Sign-up, verification, login and account upkeep through the real browser pages."""

import re
from http import HTTPStatus

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from accounts.verification import VerificationLevel, verification_level_of
from tests.factories import TEST_PASSWORD, UserFactory
from tests.helpers import FAN_PASSWORD as PASSWORD
from voting.bot_friction import form_stamp

pytestmark = pytest.mark.django_db


def sign_up(client, email: str):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": PASSWORD, "password2": PASSWORD, "shown_at": form_stamp()},
    )


def link_in_last_mail(pattern: str) -> str:
    match = re.search(pattern, mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(0)


def test_signup_then_verify_then_login(client):
    response = sign_up(client, "Mina@Example.com")

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="mina@example.com")
    assert verification_level_of(user) == VerificationLevel.NONE
    assert mail.outbox[-1].to == ["mina@example.com"]

    # Mandatory verification: a login before verifying leads back to "check your mail".
    client.logout()
    response = client.post(reverse("account_login"), {"login": "mina@example.com", "password": PASSWORD})
    assert response["Location"] == reverse("account_email_verification_sent")

    confirm_path = link_in_last_mail(r"/accounts/confirm-email/[^/\s]+/")
    assert client.get(confirm_path).status_code == HTTPStatus.OK
    response = client.post(confirm_path)
    assert response.status_code == HTTPStatus.FOUND
    assert verification_level_of(user) == VerificationLevel.EMAIL

    client.logout()
    response = client.post(reverse("account_login"), {"login": "mina@example.com", "password": PASSWORD})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/"
    assert client.get("/").context["user"] == user


def test_unverified_user_sees_the_unverified_banner(client):
    user = UserFactory(verified=False)
    client.force_login(user)

    page = client.get("/").content.decode()

    assert "not verified yet" in page


def test_disposable_email_domain_is_refused_with_a_clear_message(client):
    response = sign_up(client, "bot@mailinator.com")

    assert response.status_code == HTTPStatus.OK
    assert "disposable" in str(response.context["form"].errors["email"])
    assert not User.objects.filter(email="bot@mailinator.com").exists()
    assert mail.outbox == []


def test_subdomain_of_disposable_domain_is_refused_too(client):
    sign_up(client, "bot@x.mailinator.com")

    assert not User.objects.filter(email="bot@x.mailinator.com").exists()


def test_duplicate_email_answers_like_a_new_signup_and_mails_the_owner(client):
    existing = UserFactory(email="taken@example.com", verified=True)
    fresh = sign_up(client, "other@example.com")
    client.logout()
    mail.outbox.clear()

    duplicate = sign_up(client, "TAKEN@example.com")

    # No account enumeration: same answer as for a new address...
    assert duplicate.status_code == fresh.status_code == HTTPStatus.FOUND
    assert duplicate["Location"] == fresh["Location"]
    # ...no second account, and the owner of the address is told instead.
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    assert mail.outbox[-1].to == [existing.email]
    assert "already" in mail.outbox[-1].body.lower()


def test_password_reset_by_mail(client):
    user = UserFactory(email="forgetful@example.com", verified=True)

    client.post(reverse("account_reset_password"), {"email": "forgetful@example.com"})
    reset_path = link_in_last_mail(r"/accounts/password/reset/key/[^\s]+/")
    form_page = client.get(reset_path, follow=True)
    new_password = "another-long-passphrase-77"
    response = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else reset_path,
        {"password1": new_password, "password2": new_password},
    )

    assert response.status_code == HTTPStatus.FOUND
    user.refresh_from_db()
    assert user.check_password(new_password)


def test_email_change_needs_verification_of_the_new_address(client):
    from allauth.account.models import EmailAddress

    user = UserFactory(email="old@example.com", verified=True)
    client.force_login(user)

    client.post(reverse("account_email"), {"action_add": "", "email": "new@example.com"})

    added = EmailAddress.objects.get(email="new@example.com")
    assert added.user == user
    assert not added.verified
    assert mail.outbox[-1].to == ["new@example.com"]
    client.post(link_in_last_mail(r"/accounts/confirm-email/[^/\s]+/"))
    added.refresh_from_db()
    assert added.verified


def test_logout_ends_the_session(client):
    user = UserFactory(verified=True)
    client.force_login(user)

    client.post(reverse("account_logout"))

    assert not client.get("/").context["user"].is_authenticated


def test_wrong_password_does_not_log_in(client):
    UserFactory(email="fan@example.com", verified=True)

    response = client.post(
        reverse("account_login"), {"login": "fan@example.com", "password": "wrong-" + TEST_PASSWORD}
    )

    assert response.status_code == HTTPStatus.OK
    assert not response.context["user"].is_authenticated


def test_signup_is_rate_limited_by_allauth(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"signup": "3/m/ip"}
    statuses = [sign_up(client, f"burst{n}@example.com").status_code for n in range(5)]
    client.logout()

    assert statuses[:3] == [HTTPStatus.FOUND] * 3
    assert HTTPStatus.TOO_MANY_REQUESTS in statuses[3:]


def test_failed_logins_lock_the_account_even_for_the_right_password(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip,3/5m/key"}
    UserFactory(email="target@example.com", verified=True)
    for _ in range(3):
        client.post(reverse("account_login"), {"login": "target@example.com", "password": "nope"})

    response = client.post(
        reverse("account_login"), {"login": "target@example.com", "password": TEST_PASSWORD}
    )

    assert not response.context["user"].is_authenticated
    assert "too many failed login attempts" in str(response.context["form"].errors).lower()


def test_login_attempts_are_rate_limited_with_429(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login": "3/m/ip"}

    statuses = [
        client.post(reverse("account_login"), {"login": "x@example.com", "password": "nope"}).status_code
        for _ in range(5)
    ]

    assert statuses[:3] == [HTTPStatus.OK] * 3
    assert statuses[3:] == [HTTPStatus.TOO_MANY_REQUESTS] * 2


def test_signup_sent_back_faster_than_a_person_types_is_refused(client, settings):
    settings.MIN_FORM_FILL_SECONDS = 30

    response = sign_up(client, "hasty@example.com")

    assert response.status_code == HTTPStatus.OK
    assert "That was quick" in str(response.context["form"].non_field_errors())
    assert not User.objects.filter(email="hasty@example.com").exists()


def test_signup_page_carries_the_form_stamp_and_the_honeypot(client):
    page = client.get(reverse("account_signup")).content.decode()

    assert 'name="shown_at"' in page
    assert 'name="website"' in page
