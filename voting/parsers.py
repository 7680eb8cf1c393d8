"""Request body parsers of the API (DRF).

DRF's JSONParser turns malformed JSON into ``400 parse_error`` but lets Python's
``RecursionError`` through: a body of a few thousand ``[`` made every JSON endpoint
answer 500. Nesting that deep is never a valid request, so it is a parse error too.
"""

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error - nested too deeply.")) from None
