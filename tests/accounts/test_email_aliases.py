"""One account per inbox: plus-tags (everywhere) and dots (at Gmail) spell one address.

An alias of an existing account's address is treated exactly as that address: a
sign-up answers as a new one would and the owner is mailed; adding it to another
account mails the owner instead of a link; nothing on the page says an account exists.
"""

import re
from http import HTTPStatus
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import IntegrityError
from django.urls import reverse

from accounts.email_aliases import canonical_email
from accounts.models import User
from tests.factories import UserFactory
from tests.helpers import FAN_PASSWORD as PASSWORD
from voting.bot_friction import form_stamp

pytestmark = pytest.mark.django_db

APP = "/_allauth/app/v1"


def sign_up(client, email: str):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": PASSWORD, "password2": PASSWORD, "shown_at": form_stamp()},
        follow=True,
    )


def app_sign_up(client, email: str):
    return client.post(
        f"{APP}/auth/signup", {"email": email, "password": PASSWORD}, content_type="application/json"
    )


def confirmation_links(messages) -> list[str]:
    return [
        link for message in messages for link in re.findall(r"/accounts/confirm-email/[^/\s]+/", message.body)
    ]


@pytest.mark.parametrize(
    ("address", "canonical"),
    [
        ("Fan@Example.com", "fan@example.com"),
        ("fan+encore@example.com", "fan@example.com"),
        ("fan+a+b@example.com", "fan@example.com"),
        ("f.a.n@example.com", "f.a.n@example.com"),  # dots matter outside Gmail
        ("f.a.n+x@gmail.com", "fan@gmail.com"),
        ("F.An@GoogleMail.com", "fan@gmail.com"),
        ("+tag@example.com", "+tag@example.com"),  # no base address to fall back on
    ],
)
def test_canonical_form_drops_plus_tags_everywhere_and_dots_at_gmail(address, canonical):
    assert canonical_email(address) == canonical


def test_two_accounts_cannot_hold_aliases_of_one_inbox():
    UserFactory(email="mina@gmail.com")

    with pytest.raises(IntegrityError):
        UserFactory(email="m.i.n.a+2@googlemail.com")


def test_accounts_made_in_bulk_get_their_canonical_form_too():
    User.objects.bulk_create([User(email="bulk.fan+1@gmail.com")])

    assert User.objects.get(email="bulk.fan+1@gmail.com").canonical_email == "bulkfan@gmail.com"


def test_the_canonical_form_follows_an_address_change():
    user = UserFactory(email="old+x@example.com")
    user.email = "New.Name+y@gmail.com"
    user.save(update_fields=["email"])

    user.refresh_from_db()
    assert user.canonical_email == "newname@gmail.com"


def test_plus_tag_alias_signup_answers_like_a_new_signup_and_mails_the_owner(client):
    owner = UserFactory(email="mina@example.com", verified=True)
    fresh = sign_up(client, "someone.new@example.com")
    client.logout()
    mail.outbox.clear()

    alias = sign_up(client, "mina+farm1@example.com")

    # No account enumeration: the same pages and the same message shape...
    assert alias.redirect_chain == fresh.redirect_chain
    assert [str(m).replace("mina+farm1", "X") for m in alias.context["messages"]] == [
        str(m).replace("someone.new", "X") for m in fresh.context["messages"]
    ]
    # ...no second account for the inbox, and its owner is told, at the known address.
    assert User.objects.filter(email__startswith="mina").count() == 1
    assert [message.to for message in mail.outbox] == [[owner.email]]
    assert "mina+farm1@example.com" in mail.outbox[0].body
    assert confirmation_links(mail.outbox) == []


def test_gmail_dots_and_googlemail_are_one_address(client):
    UserFactory(email="mina.kim@gmail.com", verified=True)

    sign_up(client, "minakim@googlemail.com")
    client.logout()
    sign_up(client, "M.i.n.a.K.i.m+2@gmail.com")

    assert User.objects.count() == 1
    assert {tuple(message.to) for message in mail.outbox} == {("mina.kim@gmail.com",)}


def test_dots_still_make_another_address_outside_gmail(client):
    UserFactory(email="mina.kim@example.com", verified=True)

    sign_up(client, "minakim@example.com")

    assert User.objects.filter(email="minakim@example.com").exists()


def test_the_owner_is_mailed_once_however_many_aliases_are_tried(client):
    owner = UserFactory(email="target@example.com", verified=True)

    for number in range(3):
        sign_up(client, f"target+{number}@example.com")
        client.logout()

    assert [message.to for message in mail.outbox] == [[owner.email]]


def test_app_alias_signup_answers_like_a_new_signup(client):
    UserFactory(email="app.fan@gmail.com", verified=True)
    fresh = app_sign_up(client, "brand.new@example.com")
    client.cookies.clear()

    alias = app_sign_up(client, "appfan+2@gmail.com")

    assert alias.status_code == fresh.status_code == HTTPStatus.UNAUTHORIZED
    pending = [flow["id"] for flow in alias.json()["data"]["flows"] if flow.get("is_pending")]
    assert pending == ["verify_email"]
    assert User.objects.filter(canonical_email="appfan@gmail.com").count() == 1
    assert mail.outbox[-1].to == ["app.fan@gmail.com"]


def test_alias_signup_that_loses_a_race_answers_like_a_duplicate(client):
    # The owner's account commits between the check and the insert of the alias's:
    # the constraint decides, and the answer is still the one of a new sign-up.
    UserFactory(email="racer@example.com", verified=True)
    with mock.patch("accounts.signup_checks.account_of_address", return_value=None):
        response = sign_up(client, "racer+2@example.com")

    assert response.redirect_chain[-1][0] == reverse("account_email_verification_sent")
    assert User.objects.filter(canonical_email="racer@example.com").count() == 1
    assert mail.outbox[-1].to == ["racer@example.com"]


def test_app_alias_signup_that_loses_a_race_answers_like_a_duplicate(client):
    UserFactory(email="racer@example.com", verified=True)
    with mock.patch("accounts.signup_checks.account_of_address", return_value=None):
        response = app_sign_up(client, "racer+2@example.com")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    pending = [flow["id"] for flow in response.json()["data"]["flows"] if flow.get("is_pending")]
    assert pending == ["verify_email"]
    assert User.objects.filter(canonical_email="racer@example.com").count() == 1


def test_adding_an_alias_of_another_accounts_address_mails_its_owner_not_a_link(client):
    owner = UserFactory(email="mina@example.com", verified=True)
    farmer = UserFactory(email="farmer@example.com", verified=True)
    client.force_login(farmer)

    response = client.post(reverse("account_email"), {"action_add": "", "email": "mina+7@example.com"})

    # The page answers as for any address (a redirect and "confirmation sent")...
    assert response.status_code == HTTPStatus.FOUND
    # ...but no link exists that could verify it; the inbox's owner reads why.
    assert confirmation_links(mail.outbox) == []
    assert [message.to for message in mail.outbox] == [[owner.email]]
    assert "mina+7@example.com" in mail.outbox[0].body
    farmer.refresh_from_db()
    assert farmer.email == "farmer@example.com"


def test_confirming_an_address_whose_inbox_got_an_account_meanwhile_is_refused(client):
    holder = UserFactory(email="holder@example.com", verified=True)
    client.force_login(holder)
    client.post(reverse("account_email"), {"action_add": "", "email": "mina+7@example.com"})
    link = confirmation_links(mail.outbox)[-1]
    UserFactory(email="mina@example.com", verified=True)  # the inbox's own account, first

    response = client.post(link, follow=True)

    messages = " ".join(str(message) for message in response.context["messages"])
    assert "already belongs to an Encore account" in messages
    holder.refresh_from_db()
    assert holder.email == "holder@example.com"
    assert not EmailAddress.objects.filter(email="mina+7@example.com", verified=True).exists()


def test_an_account_may_switch_to_another_spelling_of_its_own_address(client):
    fan = UserFactory(email="mina@gmail.com", verified=True)
    client.force_login(fan)

    client.post(reverse("account_email"), {"action_add": "", "email": "mina+encore@gmail.com"})
    client.post(confirmation_links(mail.outbox)[-1])

    fan.refresh_from_db()
    assert fan.email == "mina+encore@gmail.com"
    assert fan.canonical_email == "mina@gmail.com"
