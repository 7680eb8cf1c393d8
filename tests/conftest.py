import pytest
from django.core.cache import cache

from polls.selectors import process_caches_clear
from tests.factories import AgencyFactory, MembershipFactory, PollFactory, UserFactory


@pytest.fixture(autouse=True)
def _fast_passwords_and_clean_cache(settings):
    # Hashing passwords slowly is a production feature, not something the tests prove.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests post forms at machine speed; tests of the minimum fill time set it back.
    settings.MIN_FORM_FILL_SECONDS = 0
    # Tests change polls behind the ORM's back (queryset updates, time travel) and read
    # them back at once; the tests of the per-worker cache turn it on themselves.
    settings.POLL_CACHE_SECONDS = 0
    process_caches_clear()
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def media_in_tmp(settings, tmp_path):
    # Uploaded design images go to a directory of this test's own, not the media root.
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def verified_fan(db):
    return UserFactory(verified=True)


@pytest.fixture
def agency(db):
    return AgencyFactory()


@pytest.fixture
def owner(agency):
    return MembershipFactory(agency=agency, role="owner").user


@pytest.fixture
def manager(agency):
    return MembershipFactory(agency=agency, role="manager").user


@pytest.fixture
def analyst(agency):
    return MembershipFactory(agency=agency, role="analyst").user


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def poll(agency):
    return PollFactory(agency=agency)
