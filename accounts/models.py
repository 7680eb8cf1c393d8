from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from accounts.email_aliases import canonical_email
from accounts.timezones import validate_time_zone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)

    def bulk_create(self, objs, *args, **kwargs):
        # save() is skipped here, so the canonical address is set here (demo, bench).
        objs = list(objs)
        for user in objs:
            if user.email and user.canonical_email is None:
                user.canonical_email = canonical_email(user.email)
        return super().bulk_create(objs, *args, **kwargs)


class User(AbstractBaseUser, PermissionsMixin):
    """A fan, agency staff member or operator; signs in with an email address.

    The verification level is derived (accounts/verification.py), never stored: the
    email part lives in allauth's EmailAddress, the phone part in ``phone_verified_at``
    and the trusted part in ``trusted_at``.
    """

    email = models.EmailField(_("email address"), max_length=254, unique=True)
    # The address without +tag (and without dots at Gmail), kept by save(): one
    # account per inbox (accounts/email_aliases.py). NULL (not "", which would be
    # unique too) only for the younger accounts of aliases made before the rule (0003).
    canonical_email = models.CharField(max_length=254, null=True, blank=True, editable=False)  # noqa: DJ001
    display_name = models.CharField(_("display name"), max_length=80, blank=True)
    country = CountryField(_("country"), blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, validators=[validate_time_zone], default="UTC"
    )
    phone_number = models.CharField(_("phone number"), max_length=32, blank=True)
    phone_verified_at = models.DateTimeField(null=True, blank=True)
    trusted_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Set when an operator or agency vouches for this fan.")
    )
    trusted_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    is_staff = models.BooleanField(_("operator"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now, db_index=True)
    # Set when the fan deleted the account: the row stays as an anonymised tombstone so
    # that ballots and audit entries keep pointing at it (docs/decisions/account-deletion.md).
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            # One account per address, whatever its case: Fan@x and fan@x are one person.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
            # One account per inbox: fan+1@x and fan@x (f.an@gmail.com and fan@gmail.com)
            # are one address. A constraint, so two sign-ups racing hold one account.
            models.UniqueConstraint(
                fields=["canonical_email"], name="accounts_user_one_account_per_canonical_email"
            ),
            models.CheckConstraint(
                condition=models.Q(phone_verified_at__isnull=True) | ~models.Q(phone_number=""),
                name="accounts_user_phone_verified_needs_number",
            ),
            # One person, one phone: a number verifies one account only (farms reuse SIMs).
            models.UniqueConstraint(
                fields=["phone_number"],
                condition=models.Q(phone_verified_at__isnull=False),
                name="accounts_user_one_account_per_verified_phone",
            ),
        ]

    def __str__(self) -> str:
        if self.is_deleted:
            return str(_("deleted account"))
        return self.display_name or self.email

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    @classmethod
    def from_db(cls, db, field_names, values):
        user = super().from_db(db, field_names, values)
        user._email_as_loaded = user.__dict__.get("email")
        return user

    def save(self, *args, **kwargs) -> None:
        # The canonical form follows the address whenever the address is set; an
        # account left without one by migration 0003 keeps none until it changes.
        email = self.__dict__.get("email")
        if email is not None and (self._state.adding or email != getattr(self, "_email_as_loaded", None)):
            self.canonical_email = canonical_email(email)
            update_fields = kwargs.get("update_fields")
            if update_fields is not None and "email" in update_fields:
                kwargs["update_fields"] = {*update_fields, "canonical_email"}
        super().save(*args, **kwargs)
        self._email_as_loaded = email

    @property
    def public_name(self) -> str:
        return self.display_name or self.email.split("@", 1)[0]


class Agency(models.Model):
    """An entertainment company that runs polls; verified by an operator."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    # Invalidations above this many ballots need a second member's approval (anti-fraud).
    invalidation_approval_threshold = models.PositiveIntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    ANALYST = "analyst", _("Analyst")


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "user"], name="accounts_membership_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="accounts_membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.agency} ({self.role})"


class Invitation(models.Model):
    """An owner's invitation for an address to join the agency with a role.

    Only the SHA-256 of the token is stored; the token itself travels in the mail.
    """

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            # At most one open invitation per address and agency: re-inviting replaces it.
            models.UniqueConstraint(
                "agency",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True),
                name="accounts_invitation_one_open_per_email",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="accounts_invitation_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.agency} ({self.role})"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class AuditLogEntry(models.Model):
    """An append-only record of one write by agency staff or an operator."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="audit_log")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The agency API token that acted, when no person did (its ``actor`` is then null).
    api_token = models.ForeignKey(
        "accounts.AgencyApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["agency", "-created_at"], name="accounts_audit_agency_time")]
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log entries")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


class CountryChange(models.Model):
    """One change of a fan's declared country: who made it, when, from what, to what.

    The declared country decides who may vote in country-limited polls, so changes are
    rare by rule (accounts.services.check_user_country_change) and kept here.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="country_changes"
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_country = CountryField(_("from"), blank=True)
    to_country = CountryField(_("to"), blank=True)
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["user", "-changed_at"], name="accounts_country_change_user")]
        verbose_name = _("country change")
        verbose_name_plural = _("country changes")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.from_country or '-'} → {self.to_country or '-'}"


class TokenScope(models.TextChoices):
    """What an agency API token may do (docs/decisions/agency-api-tokens.md)."""

    READ = "read", _("Read polls, turnout and insight")
    WRITE = "write", _("Read, and write draft polls and their options")


class AgencyApiToken(models.Model):
    """A bearer token for an agency's own systems (its data team's dashboards).

    Only the SHA-256 of the token is stored: the token is shown once, at creation. Its
    ``prefix`` (the token's first characters, not secret) names it in lists and logs.
    """

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=80)
    scope = models.CharField(_("scope"), max_length=8, choices=TokenScope.choices)
    prefix = models.CharField(max_length=24, editable=False)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=TokenScope.values), name="accounts_api_token_scope_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="accounts_api_token_expires_after_creation",
            ),
        ]
        verbose_name = _("agency API token")
        verbose_name_plural = _("agency API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.agency}, {self.scope})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return not self.is_revoked and not self.is_expired
