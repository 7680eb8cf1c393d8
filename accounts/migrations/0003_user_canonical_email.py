"""One account per inbox: each account's address in canonical form (no +tag, no dots
at Gmail; accounts/email_aliases.py), unique.

Accounts made before the rule may already share a canonical form (a farm's aliases).
The oldest of each group keeps it; the younger ones are left without one, so that the
constraint can be added, and are listed in the migration's output for review. They
get one as soon as their address changes.
"""

from django.db import migrations, models


def fill_canonical_emails(apps, schema_editor):
    from accounts.email_aliases import canonical_email

    User = apps.get_model("accounts", "User")
    taken: set[str] = set()
    younger_aliases: list[str] = []
    batch = []
    for user in User.objects.order_by("date_joined", "pk").only("pk", "email").iterator(chunk_size=2000):
        canonical = canonical_email(user.email)
        if canonical in taken:
            younger_aliases.append(user.email)
            continue
        taken.add(canonical)
        user.canonical_email = canonical
        batch.append(user)
        if len(batch) >= 2000:
            User.objects.bulk_update(batch, ["canonical_email"])
            batch = []
    User.objects.bulk_update(batch, ["canonical_email"])
    if younger_aliases:
        print(  # for the operator running migrate
            f"\n  {len(younger_aliases)} account(s) share an inbox with an older account "
            "and were left without a canonical address; review them: "
            + ", ".join(sorted(younger_aliases)[:50])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_one_account_per_verified_phone"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="canonical_email",
            field=models.CharField(blank=True, editable=False, max_length=254, null=True),
        ),
        migrations.RunPython(fill_canonical_emails, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                fields=("canonical_email",), name="accounts_user_one_account_per_canonical_email"
            ),
        ),
    ]
