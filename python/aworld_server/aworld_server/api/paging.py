"""Pages of a list too large for one response (run nodes, trajectory items).

A page ends at ``page_size`` items or when the next item would take it past the byte budget
(a share of the server's message limit), whichever comes first, and always holds at least one
item — so a long task's state is read page by page instead of failing for good at 4 MB. The
token is an opaque offset; a token that does not decode is INVALID_ARGUMENT.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, TypeVar

from aworld_server.errors import FieldViolation, InvalidArgument

__all__ = ["page_of"]

T = TypeVar("T")
_PREFIX = b"offset:"


def page_of(
    items: Sequence[T], page_size: int, page_token: str, *, max_items: int, max_bytes: int
) -> tuple[list[T], str]:
    """The page of ``items`` the request asks for, and the token of the next one ('' if last)."""
    if page_size < 0:
        raise InvalidArgument("invalid page_size", [FieldViolation("page_size", "is negative")])
    start = _offset(page_token)
    limit = min(page_size or max_items, max_items)
    page: list[T] = []
    size = 0
    for item in items[start:]:
        cost = _size(item)
        if len(page) >= limit or (page and size + cost > max_bytes):
            break
        page.append(item)
        size += cost
    end = start + len(page)
    return page, _token(end) if end < len(items) else ""


def _size(item: Any) -> int:
    return int(item.to_proto().ByteSize()) + 8  # field tag and length prefix, roughly


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(_PREFIX + str(offset).encode()).decode()


def _offset(token: str) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        if raw.startswith(_PREFIX) and raw[len(_PREFIX) :].isdigit():
            return int(raw[len(_PREFIX) :])
    except (binascii.Error, ValueError):
        pass
    raise InvalidArgument("invalid page_token", [FieldViolation("page_token", "not a token")])
