"""What every HTTP router shares on the way in: query parameters, their parsing, and the
check that refuses undeclared or repeated ones. (What answers share on the way out is in
`wire`.)"""

from __future__ import annotations

import types
from typing import Annotated, Literal, Union, get_args, get_origin

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from gputel.collector.errors import InvalidParameterError
from gputel.collector.query.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from gputel.collector.timefmt import parse_duration, parse_time

Agg = Literal["avg", "min", "max", "sum", "last", "count", "p50", "p95", "p99"]


def time_ns(name: str, text: str | None) -> int | None:
    """An optional RFC 3339 / Unix-seconds parameter as Unix ns."""
    return None if text is None else parse_time(name, text)


def duration_ns(name: str, text: str | None) -> int | None:
    """An optional duration parameter (`15s`, `100ms`, seconds) as ns."""
    return None if text is None else parse_duration(name, text)


Start = Annotated[str | None, Query(description="RFC 3339 or Unix seconds; default end - 1 h")]
End = Annotated[str | None, Query(description="RFC 3339 or Unix seconds; default now")]
Step = Annotated[str | None, Query(description="15s, 100ms, 1m or seconds; default: at most "
                                               "~1,000 points, never below the sample period",
                                   examples=["15s"])]
Metric = Annotated[str, Query(description="a metric id: gpu_util, mem_util, mem_used, "
                                          "mem_total, power, temperature, sm_clock, energy, ...",
                              examples=["power"])]
AggParam = Annotated[Agg, Query(description="aggregation over each point's window (t - step, "
                                            "t]; percentiles need the full-rate head")]
PageNumber = Annotated[int, Query(ge=1, description="1-based page")]
PageSize = Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE,
                                description="items per page")]
DEFAULT_SIZE = DEFAULT_PAGE_SIZE


def strict_query(request: Request) -> None:
    """Refuse query parameters the matched route does not declare, and repeats of one it
    takes once (an app-wide dependency, so every route checks the same way).

    Raises InvalidParameterError naming the parameter.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared: dict[str, bool] | None = getattr(route, "_gputel_query", None)
    if declared is None:  # worked out once per route, kept on it
        declared = _declared(route)
        setattr(route, "_gputel_query", declared)  # noqa: B010 - not a declared attribute
    for name in dict.fromkeys(request.query_params.keys()):
        if name not in declared:
            takes = ", ".join(sorted(declared)) or "no query parameters"
            raise InvalidParameterError(name, f"is not a parameter of {route.path} "
                                        f"(it takes {takes})")
        if not declared[name] and len(request.query_params.getlist(name)) > 1:
            raise InvalidParameterError(name, "is given more than once; it takes one value")


def _declared(route: APIRoute) -> dict[str, bool]:
    """A route's query parameters by wire name: True where it takes several values."""
    found: dict[str, bool] = {}
    pending: list[Dependant] = [route.dependant]
    while pending:  # the route's own parameters and those of its dependencies
        dependant = pending.pop()
        found.update({f.alias: _takes_many(f.field_info.annotation)
                      for f in dependant.query_params})
        pending.extend(dependant.dependencies)
    return found


def _takes_many(annotation: object) -> bool:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_takes_many(a) for a in get_args(annotation))
    return origin in (list, tuple, set, frozenset)
