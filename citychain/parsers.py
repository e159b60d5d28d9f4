"""Request parsers named in REST_FRAMEWORK's DEFAULT_PARSER_CLASSES.

Kept apart from `citychain.api` on purpose: DRF reads DEFAULT_PARSER_CLASSES when
`rest_framework.views` is first imported, and `citychain.api` imports that module, so a
parser defined there is half-imported whenever `citychain.api` is the first to load DRF's
views (the CSRF failure view does, during `manage.py check`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but JSON nested deeper than Python's parser goes (a few thousand
    brackets, well under any size limit) is a 400 like any other unreadable body, not a
    RecursionError and a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("JSON parse error - nested too deeply.")) from None
