"""What the compatibility routers share: errors in each seed's own envelope, its pages, and
saying what gputel does not know.

Each router answers its seed's paths, envelope, field names and units from the same query
services as /api/v1 (no computation is repeated here: a router only renames and converts
units). A route raises gputel's errors as usual; the router's route class turns them
(and FastAPI's parameter errors, and undeclared parameters: `strict_query` runs on every
route) into the seed's error envelope, so a seed's client reads every answer it gets.

Where gputel lacks what a seed's field means (CPU usage, storage, queue quotas, ...), the
field is null (or the list empty), and the answer says so: the `X-Gputel-Missing` header
on every such answer, plus a `missing` list in the body where the seed's envelope is an
object. Nothing is made up.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from gputel.collector.api.http.wire import HTTP_STATUS
from gputel.collector.errors import GputelError, InvalidParameterError
from gputel.collector.query.paging import MAX_PAGE_SIZE, paginate

T = TypeVar("T")
MISSING_HEADER = "X-Gputel-Missing"
ErrorRenderer = Callable[[int, GputelError], Response]
BYTES_PER_GIB = 1024**3


def error_route(render: ErrorRenderer) -> type[APIRoute]:
    """An APIRoute class whose errors are rendered by `render(status, error)`."""

    class CompatRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def run(request: Request) -> Response:
                try:
                    return await handler(request)
                except GputelError as exc:
                    return render(HTTP_STATUS.get(exc.code, 500), exc)
                except RequestValidationError as exc:
                    return render(400, _parameter_error(exc))
            return run

    return CompatRoute


def _parameter_error(exc: RequestValidationError) -> InvalidParameterError:
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body")]
    return InvalidParameterError(".".join(loc) or "request", str(first.get("msg", "invalid")))


def missing_header(missing: Sequence[str]) -> dict[str, str]:
    """The header naming what an answer lacks ('' entries dropped); {} when nothing is."""
    text = "; ".join(m for m in missing if m)
    return {MISSING_HEADER: text} if text else {}


PageNum = Annotated[int, Query(alias="pageNum", ge=1, description="1-based page")]
PageSize = Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE,
                                description="items per page")]


def page_of(items: Sequence[T], page_num: int, page_size: int) -> tuple[list[T], int]:
    """One page and the total. A page past the end is empty (a client paging until it gets
    an empty page stops there), never page 1 again. Raises InvalidParameterError."""
    if items and (page_num - 1) * page_size >= len(items):
        return [], len(items)
    try:
        cut = paginate(items, page_num, page_size)
    except InvalidParameterError as exc:
        name = "pageNum" if exc.parameter == "page" else exc.parameter
        raise InvalidParameterError(name, exc.message.split(": ", 1)[-1]) from None
    return cut.items, cut.total


def seconds(ts_ns: int) -> int:
    """Unix ns -> whole Unix seconds (rounded down)."""
    return ts_ns // 10**9


def seconds_ns(value: int | None) -> int | None:
    """Unix seconds -> ns, None kept."""
    return None if value is None else value * 10**9


def fraction(percent: float | None) -> float | None:
    """Percent -> 0..1, None kept."""
    return None if percent is None else percent / 100.0


def gib(value_bytes: float | None) -> float | None:
    """Bytes -> GiB (what the seeds call GB), None kept."""
    return None if value_bytes is None else value_bytes / BYTES_PER_GIB


def holder_names(holders: Sequence[tuple[str, float]]) -> list[str]:
    """The workloads holding a share of a GPU now."""
    return [uid for uid, f in holders if f > 0]


def envelope_missing(body: dict[str, Any], missing: Sequence[str]) -> dict[str, Any]:
    """The body with `missing` added when something is."""
    kept = [m for m in missing if m]
    return {**body, "missing": kept} if kept else body
