"""The API's body parsers refuse a NUL anywhere in the body, naming the field (core/text.py).

Every DRF view parses its body through these (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]), so no
serializer field, JSONField or hand-read `request.data` can hand a NUL to PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

from core.text import NUL, NUL_REASON, nul_path

# A form field a JSONField reads (`definition`, `rule`) is JSON text: its escaped NUL becomes a real
# one only after parsing, so form values are refused for the escape as well.
JSON_NUL_ESCAPE = "\\u0000"


def _refuse_nul(data: Any) -> None:
    if isinstance(data, QueryDict):  # a form field is named by its name, however often it is sent
        data = {key: " ".join(values) for key, values in data.lists()}
        for key, value in data.items():
            if JSON_NUL_ESCAPE in value:
                raise ValidationError({key.replace(NUL, JSON_NUL_ESCAPE): [NUL_REASON]})
    path = nul_path(data)
    if path is not None:
        raise ValidationError({path: [NUL_REASON]})


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # the json module gives up near 1,000 levels; that is bad input
            raise ParseError("JSON parse error - nested too deeply")
        _refuse_nul(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _refuse_nul(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _refuse_nul(result.data)
        return result
