"""The one rule for text entering Voyage: PostgreSQL cannot store NUL, so a NUL is refused where it
enters (API bodies, query and path parameters, provider callbacks, ingestion) with an error naming
the field, instead of failing later with a DataError (a 500) or being dropped silently.

Plain Python so every floor can use it: the API parsers and middleware (core/api.py), ingestion
(tracking/messages.py) and the provider callbacks (channels/webhooks.py).
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"
NUL_REASON = "contains a NUL character (\\u0000), which cannot be stored"


class NulCharacter(ValueError):
    """A text value holds a NUL; `path` names where (`definition.stages[0].key`, `status`, `body`)."""

    def __init__(self, path: str):
        self.path = path or "body"
        super().__init__(f"{self.path}: {NUL_REASON}")


def _join(prefix: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    key = str(key).replace(NUL, "\\u0000")  # a path is shown and stored: never with the NUL itself
    return f"{prefix}.{key}" if prefix else key


def nul_path(value: Any, *, prefix: str = "") -> str | None:
    """The path of the first string (key or value) holding a NUL, or None.

    Iterative, so a deeply nested document cannot exhaust Python's recursion limit.
    """
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return path or "body"
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                child_path = _join(path, key)
                if isinstance(key, str) and NUL in key:
                    return child_path
                stack.append((child_path, child))
        elif isinstance(item, list | tuple):
            for index in range(len(item) - 1, -1, -1):
                stack.append((_join(path, index), item[index]))
    return None


def nul_refuse(value: Any, *, path: str = "") -> None:
    """Raise NulCharacter naming the first field that holds a NUL."""
    found = nul_path(value, prefix=path)
    if found is not None:
        raise NulCharacter(found)
