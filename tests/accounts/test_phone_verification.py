"""The "phone" level, when a deployment turns phone verification on."""

import importlib
import re

import pytest
from django.db import IntegrityError
from django.test import override_settings
from django.urls import clear_url_caches, reverse
from django.utils import timezone

from accounts import sms
from accounts.verification import VerificationLevel, verification_level_of
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PHONE_ON = {
    "PHONE_VERIFICATION": True,
    "ACCOUNT_PHONE_VERIFICATION_ENABLED": True,
    "ACCOUNT_SIGNUP_FIELDS": ["email*", "phone", "password1*", "password2*"],
    "SMS_BACKEND": "accounts.sms.LocmemSMSBackend",
}


def reload_urls() -> None:
    # allauth adds its phone URLs when the urlconf is imported, so load it again.
    import allauth.account.urls
    import allauth.urls

    import voting.urls

    for module in (allauth.account.urls, allauth.urls, voting.urls):
        importlib.reload(module)
    clear_url_caches()


@pytest.fixture
def phone_verification_on():
    sms.outbox.clear()
    with override_settings(**PHONE_ON):
        reload_urls()
        yield
    reload_urls()


def log_in(client, user):
    response = client.post(reverse("account_login"), {"login": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302


def verify_phone(client, phone: str):
    client.post(reverse("account_change_phone"), {"phone": phone})
    if not sms.outbox:
        return None
    code = re.search(r"code is (\S+)\.", sms.outbox[-1][1]).group(1)
    return client.post(reverse("account_verify_phone"), {"code": code})


def test_a_fan_verifies_a_phone_by_text_message_and_reaches_the_phone_level(client, phone_verification_on):
    fan = UserFactory(verified=True)
    log_in(client, fan)

    verify_phone(client, "+821012345678")

    fan.refresh_from_db()
    assert fan.phone_number == "+821012345678"
    assert fan.phone_verified_at is not None
    assert verification_level_of(fan) == VerificationLevel.PHONE
    assert sms.outbox[0][0] == "+821012345678"


def test_a_number_verified_on_one_account_does_not_verify_another(client, phone_verification_on):
    owner = UserFactory(verified=True, phone_number="+821099998888", phone_verified_at=timezone.now())
    second = UserFactory(verified=True)
    log_in(client, second)

    verify_phone(client, "+821099998888")

    second.refresh_from_db()
    assert second.phone_verified_at is None
    assert verification_level_of(second) == VerificationLevel.EMAIL
    owner.refresh_from_db()
    assert verification_level_of(owner) == VerificationLevel.PHONE


def test_the_database_refuses_one_verified_phone_on_two_accounts():
    UserFactory(phone_number="+34600000000", phone_verified_at=timezone.now())

    with pytest.raises(IntegrityError):
        UserFactory(phone_number="+34600000000", phone_verified_at=timezone.now())


def test_phone_pages_do_not_exist_unless_turned_on(client):
    client.force_login(UserFactory(verified=True))

    assert client.get("/accounts/phone/change/").status_code == 404
