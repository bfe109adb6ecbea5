"""Walking every /api/v1 read route of a collector (tests/api/test_openapi.py's list) and
comparing two collectors' answers, less what is the asking instant's (meta times, uptime)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_openapi import ROUTES, STREAMS
from tests.harness.servers import wait_until
from tests.harness.tsdb import comparable, searchable
from tests.prometheus.promserver import TsdbServer

# Fields that are the answering process's own, not the data's: dropped before comparing
# (uptime; when an alert was last evaluated; the window of /cost and /statistics/usage,
# which end at the asking instant, and /cost's projection, a rate over the time from the
# first charged sample to that instant).
OWN_FIELDS = frozenset({"uptimeSeconds", "updated"})
NOW_WINDOW = {"/api/v1/cost", "/api/v1/statistics/usage"}
NOW_FIELDS = frozenset({"start", "end", "projection"})


def read_routes() -> list[str]:
    """Every GET route of the API but the event stream, sorted."""
    return sorted(p for m, p in ROUTES if m == "get" and (m, p) not in STREAMS)


def route_urls(base: str, ids: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """(path, params) for each read route, path parameters and required query parameters
    filled from `ids` and the spec's examples."""
    spec = httpx.get(f"{base}/openapi.json", timeout=10).json()
    out = []
    for path in read_routes():
        url, params = path, {}
        for parameter in spec["paths"][path]["get"].get("parameters", []):
            name = parameter["name"]
            schema = parameter.get("schema", {})
            value = ids.get(name) or (schema.get("examples") or [None])[0] or (
                schema.get("enum") or [None])[0] or schema.get("default")
            if parameter["in"] == "path":
                url = url.replace("{" + name + "}", str(value))
            elif parameter.get("required") or name in ids:
                params[name] = str(value)
        out.append((url, params))
    return out


def answer(base: str, url: str, params: dict[str, str]) -> tuple[int, Any]:
    """A route's status and data, less the answering process's own fields."""
    response = httpx.get(base + url, params=params, timeout=20)
    body = response.json()
    own = OWN_FIELDS | (NOW_FIELDS if url in NOW_WINDOW else set())
    return response.status_code, comparable(body.get("data", body), own)


def wait_agreeing(server: TsdbServer, first: str, second: str,
                  urls: list[tuple[str, dict[str, str]]], what: str = "both to agree") -> None:
    """Until two collectors answer every route alike (30 s); fails naming the routes."""
    seen: list[list[str]] = [[]]

    def agree() -> bool:
        searchable(server)
        seen[0] = differing(first, second, urls)
        return not seen[0]

    try:
        wait_until(agree, timeout=30, interval=0.5, what=what)
    except AssertionError:
        params = dict(urls)
        fields = {url: fields_differing(answer(first, url, params[url]),
                                        answer(second, url, params[url])) for url in seen[0]}
        pytest.fail(f"{what}: routes that differ: {seen[0]}; fields (first, second): {fields}")


def differing(first: str, second: str, urls: list[tuple[str, dict[str, str]]]) -> list[str]:
    """The routes whose answers differ between two collectors."""
    return [url for url, params in urls
            if answer(first, url, params) != answer(second, url, params)]


def fields_differing(first: Any, second: Any, limit: int = 6) -> list[tuple[str, Any, Any]]:
    """The first `limit` leaf paths whose values differ (for failure messages)."""
    a, b = dict(_leaves(first)), dict(_leaves(second))
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k)][:limit]


def _leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{path}.{k}")]
    if isinstance(value, (list, tuple)):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]")]
    return [(path, value)]
