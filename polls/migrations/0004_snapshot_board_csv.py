"""The CSV download of a published board is built once, at publishing, and stored beside
the JSON; snapshots published before this migration get theirs from their JSON here."""

import csv
import io
import json

from django.db import migrations, models

CSV_COLUMNS = ["receipt_hash", "voter_tag", "choices", "day", "status", "reason", "checkpoint"]


def board_csv(document: dict) -> str:
    # A copy of polls.bulletin.board_csv as it stands at this migration, so that the
    # migration keeps its meaning whatever that module becomes.
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for ballot in document["ballots"]:
        writer.writerow(
            [
                ballot["receipt_hash"],
                ballot["voter_tag"],
                " ".join(str(choice) for choice in ballot["choices"]),
                ballot["day"],
                ballot["status"],
                ballot["reason"],
                "" if ballot["checkpoint"] is None else ballot["checkpoint"],
            ]
        )
    return out.getvalue()


def fill_board_csv(apps, schema_editor):
    ResultSnapshot = apps.get_model("polls", "ResultSnapshot")
    for snapshot in ResultSnapshot.objects.filter(board_csv="").only("pk", "board_json").iterator(chunk_size=1):
        snapshot.board_csv = board_csv(json.loads(snapshot.board_json))
        snapshot.save(update_fields=["board_csv"])


class Migration(migrations.Migration):

    dependencies = [
        ("polls", "0003_fingerprints_invalidation_requests"),
    ]

    operations = [
        migrations.AddField(
            model_name="resultsnapshot",
            name="board_csv",
            field=models.TextField(default="", help_text="The exact bytes (UTF-8) of the CSV download."),
            preserve_default=False,
        ),
        migrations.RunPython(fill_board_csv, migrations.RunPython.noop),
    ]
