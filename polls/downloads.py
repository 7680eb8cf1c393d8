"""Downloads served byte for byte: the bulletin board (JSON, CSV) and the public key.

Plain Django views rather than DRF, because the JSON must be the exact stored bytes
whose SHA-256 was published, not a re-rendering of it.
"""

from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from polls import selectors
from polls.models import PollState, ResultSnapshot
from polls.signing import public_key_pem
from voting.db_router import reads_from_replica
from voting.errors import Code, error_response
from voting.ratelimits import rate_limited


@require_GET
@rate_limited("export", methods=("GET",))
@reads_from_replica
def bulletin_download(request, slug: str):
    """The board as published: JSON (its SHA-256 is the published digest) or CSV, both
    stored whole at publishing, so a download reads one column and parses nothing."""
    poll = selectors.poll_for_public(slug=slug)
    if poll is None:
        return error_response(Code.NOT_FOUND, _("No such poll."))
    if poll.state != PollState.PUBLISHED:
        return error_response(Code.RESULTS_HIDDEN, _("The bulletin board is published with the results."))
    as_csv = request.GET.get("format") == "csv"
    column, content_type, extension = (
        ("board_csv", "text/csv; charset=utf-8", "csv")
        if as_csv
        else ("board_json", "application/json", "json")
    )
    text, digest = ResultSnapshot.objects.filter(poll=poll).values_list(column, "board_digest").get()
    response = HttpResponse(text.encode("utf-8"), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{poll.slug}-bulletin.{extension}"'
    response["X-Content-SHA256"] = digest
    response["Cache-Control"] = "public, max-age=3600, immutable"
    return response


@require_GET
def signing_key_pem(request):
    return HttpResponse(public_key_pem(), content_type="application/x-pem-file")
