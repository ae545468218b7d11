"""Keyset ("cursor") paging over events, newest first, stable however many share a timestamp."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param


class EventCursorPagination(BasePagination):
    """Pages of events ordered by (timestamp, id) descending; the cursor is the last row's key.

    Unlike offset paging, a page costs the same deep into a long history, and events arriving
    while a client pages do not shift what it sees.
    """

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    page_size = 100
    max_page_size = 1000
    display_page_controls = False

    def _page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"a whole number from 1 to {self.max_page_size}"]}
            )
        return int(raw)

    @staticmethod
    def encode(timestamp: datetime, pk: int) -> str:
        return base64.urlsafe_b64encode(f"{timestamp.isoformat()}|{pk}".encode()).decode()

    def _decode(self, raw: str) -> tuple[datetime, int]:
        try:
            text = base64.urlsafe_b64decode(raw.encode()).decode()
            stamp, pk = text.rsplit("|", 1)
            return datetime.fromisoformat(stamp), int(pk)
        except (ValueError, UnicodeDecodeError):
            raise ValidationError({self.cursor_query_param: ["not a cursor this API handed out"]})

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        size = self._page_size(request)
        raw = request.query_params.get(self.cursor_query_param)
        queryset = queryset.order_by("-timestamp", "-id")
        if raw:
            stamp, pk = self._decode(raw)
            queryset = queryset.filter(Q(timestamp__lt=stamp) | Q(timestamp=stamp, id__lt=pk))
        rows = list(queryset[: size + 1])
        self.next_cursor = (
            self.encode(rows[size - 1].timestamp, rows[size - 1].pk) if len(rows) > size else None
        )
        return rows[:size]

    def get_next_link(self) -> str | None:
        if self.next_cursor is None:
            return None
        return replace_query_param(
            self.request.build_absolute_uri(), self.cursor_query_param, self.next_cursor
        )

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response({"next": self.get_next_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The next (older) page; null on the last page.",
                    "example": "http://127.0.0.1:8000/api/events/?cursor=MjAyNS0wMS0wMVQwMDowMDowMCswMDowMHwxMjM%3D",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The `next` link's cursor, to get the following (older) page.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Events per page, 1 to {self.max_page_size} (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

    def get_results(self, data: dict[str, Any]) -> list[Any]:
        return data["results"]
