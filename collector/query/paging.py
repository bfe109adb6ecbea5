"""Pagination of lists: 1-based pages of at most MAX_PAGE_SIZE items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from gputel.collector.errors import InvalidParameterError

T = TypeVar("T")
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a filtered list; `total` counts the whole list. Pages start at 1."""

    items: list[T]
    total: int
    page: int
    page_size: int


def paginate(items: Sequence[T], page: int = 1, page_size: int = DEFAULT_PAGE_SIZE) -> Page[T]:
    """Cut one page. Raises InvalidParameterError naming `page` or `pageSize`."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidParameterError("pageSize", f"{page_size} is outside 1 to {MAX_PAGE_SIZE}")
    pages = max(1, -(-len(items) // page_size))
    if not 1 <= page <= pages:
        raise InvalidParameterError("page", f"page {page} is outside 1 to {pages} "
                                    f"({len(items)} item(s), {page_size} per page)")
    first = (page - 1) * page_size
    return Page(list(items[first:first + page_size]), len(items), page, page_size)
