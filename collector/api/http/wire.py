"""What every HTTP answer shares on the wire: the answer base model, the success, page and
error envelopes, and the value conversions (NaN -> null, RFC 3339 times).

Success is {"data": ..., "meta": {...}}, meta a model too (a page's total, page, pageSize; a
range's points; {} where there is nothing to add); an error is its HTTP status plus
{"error": {"code", "message", "details"}}. Models use snake_case fields with camelCase
aliases and refuse unknown keys. A route returns its model, built by the model's
`from_core`, and FastAPI writes it with those aliases, so the OpenAPI schema and the
answers are one description (a test also validates every answer against its route's model).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from gputel.collector.query.aggregate import FloatArray, IntArray
from gputel.collector.query.paging import Page
from gputel.collector.timefmt import format_time, format_times

HTTP_STATUS = {"INVALID_PARAMETER": 400, "INVALID_ARGUMENT": 400, "UNAUTHORIZED": 401,
               "FORBIDDEN": 403, "NOT_FOUND": 404, "RATE_LIMITED": 429, "UNAVAILABLE": 503}
T = TypeVar("T")
M = TypeVar("M")
Item = TypeVar("Item")


class ApiModel(BaseModel):
    """Base of the answer models: camelCase on the wire, no undeclared keys."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class NoMeta(ApiModel):
    """Nothing about the answer beyond its data: {}."""


class PageMeta(ApiModel):
    """One page of a list: items in the whole list, this page (from 1), items per page."""

    total: int
    page: int
    page_size: int


class PointsMeta(ApiModel):
    """Points per series."""

    points: int


class SeriesMeta(ApiModel):
    """Points in all GPU series together, and how many GPU series."""

    points: int
    series: int


class GridMeta(ApiModel):
    """A heatmap's rows (GPUs) and columns (points in time)."""

    rows: int
    columns: int


class Envelope(BaseModel, Generic[T, M]):
    """A successful answer: its data, and what the meta model says about it."""

    model_config = ConfigDict(extra="forbid")
    data: T
    meta: M


Answer = Envelope[T, NoMeta]
Paged = Envelope[list[T], PageMeta]


class ErrorBody(ApiModel):
    """What went wrong: a code from the error tree, a message naming the problem, details
    (`parameter` names a bad parameter)."""

    code: str
    message: str
    details: dict[str, Any]


class ErrorEnvelope(BaseModel):
    """A failed answer."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorEnvelope, "description": "INVALID_PARAMETER (details.parameter)"},
    401: {"model": ErrorEnvelope, "description": "UNAUTHORIZED: tokens configured, none given"},
    404: {"model": ErrorEnvelope, "description": "NOT_FOUND"},
    429: {"model": ErrorEnvelope, "description": "RATE_LIMITED"},
}


def error_response(status: int, code: str, message: str,
                   details: Mapping[str, object] | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The error envelope."""
    body = ErrorEnvelope(error=ErrorBody(code=code, message=message,
                                         details=dict(details or {})))
    return JSONResponse(body.model_dump(mode="json"), status_code=status,
                        headers=dict(headers or {}))


def ok(data: T) -> Answer[T]:
    """The success envelope of an answer with nothing in its meta."""
    return Envelope(data=data, meta=NoMeta())


def paged(page: Page[Item], answer: Callable[[Item], T]) -> Paged[T]:
    """The envelope of one page of a list, each item answered by `answer` (a `from_core`)."""
    return Envelope(data=[answer(item) for item in page.items],
                    meta=PageMeta(total=page.total, page=page.page, page_size=page.page_size))


def finite_list(values: FloatArray) -> list[float | None]:
    """An array's values, None (null) where NaN."""
    return [None if math.isnan(v) else v for v in values.tolist()]


def time_or_none(ts_ns: int | None) -> str | None:
    """Unix ns as RFC 3339, or None (null) where there is no time."""
    return None if ts_ns is None else format_time(ts_ns)


def times(ts_ns: IntArray) -> list[str]:
    """An array of Unix ns as RFC 3339 strings."""
    return format_times(ts_ns)
