"""The API's pure pieces: label selectors, pages, percentiles, tiers, rate limits, tokens,
per-model tables, webhook signing and retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

import httpx
import numpy as np
import pytest

from gputel.collector.api.access import AccessPolicy, RateLimiter, Role, parse_tokens
from gputel.collector.api.secrets import SecurityConfigError, TokenBook
from gputel.collector.errors import InvalidParameterError
from gputel.collector.ingest.core import IngestCore
from gputel.collector.outbound.webhooks import WebhookConfig, WebhookSender, sign
from gputel.collector.query.aggregate import PERCENTILES, aggregate
from gputel.collector.query.alerts import Alert, AlertEvent
from gputel.collector.query.core import QueryCore
from gputel.collector.query.labels import parse_selector
from gputel.collector.query.modeltable import for_model, parse_model_table
from gputel.collector.query.paging import paginate
from gputel.collector.storage.rollups import Buckets, Tier
from gputel.collector.storage.store import SeriesStore
from tests.harness.raw_stream import hello

LABELS = {"app": "train", "team": "vision", "example.com/tier": "gold"}


@pytest.mark.parametrize(("selector", "matches"), [
    ("", True), ("app=train", True), ("app==train", True), ("app!=train", False),
    ("app in (train, infer)", True), ("app notin (train)", False), ("team", True),
    ("!team", False), ("!missing", True), ("missing!=x", True), ("missing in (x)", False),
    ("app=train,team=web", False), ("example.com/tier=gold, app in (train)", True),
    ("app=", False), ("missing=", False),
])
def test_label_selectors_follow_kubernetes(selector: str, matches: bool) -> None:
    assert parse_selector(selector).matches(LABELS) is matches


@pytest.mark.parametrize("selector", ["app>1", "app<1", "app in x", "app in (a,b", "=x",
                                      "app=a b", ",", "app in ()", "a=(b)", "app~=x"])
def test_other_selector_syntax_is_refused_naming_labels(selector: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_selector(selector)
    assert caught.value.parameter == "labels"


def test_pages_cut_and_refuse_out_of_range() -> None:
    page = paginate(list(range(5)), page=2, page_size=2)
    assert (page.items, page.total, page.page, page.page_size) == ([2, 3], 5, 2, 2)
    assert paginate([], 1, 10).items == []
    for page_number, size, parameter in ((4, 2, "page"), (0, 2, "page"), (1, 0, "pageSize"),
                                         (1, 1001, "pageSize")):
        with pytest.raises(InvalidParameterError) as caught:
            paginate(list(range(5)), page_number, size)
        assert caught.value.parameter == parameter


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("agg", sorted(PERCENTILES))
def test_window_percentiles_match_numpy(seed: int, agg: str) -> None:
    rng = random.Random(seed)
    ts = np.array(sorted(rng.sample(range(10**6), 400)), dtype=np.int64)
    values = np.array([rng.uniform(0, 700) for _ in ts], dtype=np.float32)
    start, step = 1000, rng.randrange(5_000, 100_000)
    n = (10**6 - start) // step + 1
    got = aggregate(ts, values, start, step, n, agg)
    for j in range(n):
        t = start + j * step
        window = values[(ts > t - step) & (ts <= t)].astype(np.float64)
        want = np.percentile(window, PERCENTILES[agg]) if window.size else np.nan
        np.testing.assert_allclose(got[j], want, rtol=1e-12)


class _Rollups:
    """A rollup reader with one bucket of everything."""

    def read(self, *_args: object) -> Buckets:
        one = np.ones(1)
        return Buckets(np.zeros(1, np.int64), one, one, one, np.ones(1, np.int64), one)


def test_percentiles_over_rollup_tiers_are_refused_naming_agg() -> None:
    now = 1_800_000_000 * 10**9
    store = SeriesStore(10**18)
    ingest = IngestCore(store, lambda: now)
    ingest.open(hello(node="n"))
    core = QueryCore(ingest.registry, ingest.workloads, store, lambda: now,
                     rollups=_Rollups(),  # type: ignore[arg-type]
                     tiers=(Tier(10 * 10**9, 86400 * 10**9),), head_ns=60 * 10**9)
    old = now - 3600 * 10**9
    assert core.query_range("n", "power", old, now, 60 * 10**9, "max").gpus  # from the tier
    with pytest.raises(InvalidParameterError, match="rollups") as caught:
        core.query_range("n", "power", old, now, 60 * 10**9, "p95")
    assert caught.value.parameter == "agg"
    assert core.query_range("n", "power", now - 30 * 10**9, now, 10**9, "p95")  # head: fine


def test_rate_limiter_refills_at_its_rate() -> None:
    clock = [0.0]
    limiter = RateLimiter(per_second=2.0, burst=3, monotonic=lambda: clock[0])
    quotas = [limiter.take("a") for _ in range(4)]
    assert [q.allowed for q in quotas] == [True, True, True, False]
    assert [q.remaining for q in quotas] == [2, 1, 0, 0]
    assert quotas[-1].retry_after_seconds == 1
    assert limiter.take("b").allowed  # another client, its own bucket
    clock[0] = 0.5  # one request refilled
    assert limiter.take("a").allowed
    assert not limiter.take("a").allowed


def test_tokens_roles_and_policy() -> None:
    tokens = parse_tokens("# comment\nalpha: read\nbeta:admin\ngamma\n", "file")
    assert tokens == {"alpha": Role.READ, "beta": Role.ADMIN, "gamma": Role.READ}
    with pytest.raises(SecurityConfigError, match="entry 1") as caught:
        parse_tokens("s3cret: root", "file")
    assert "s3cret" not in str(caught.value)
    policy = AccessPolicy(TokenBook(tokens))
    assert policy.check(None, False, "a").error.code == "UNAUTHORIZED"  # type: ignore[union-attr]
    assert policy.check("Bearer alpha", True, "a").error.code == "FORBIDDEN"  # type: ignore[union-attr]
    assert policy.check("Bearer beta", True, "a").error is None
    assert policy.check("Basic beta", False, "a").error is not None
    assert AccessPolicy().check(None, True, "a").error is None  # no tokens: open


def test_model_tables() -> None:
    table = parse_model_table("H100=83, H100 NVL=80,MI300X=90", "--alert-temperature-by-model")
    assert for_model(table, "NVIDIA H100 NVL", 85.0) == 80.0  # the longest key wins
    assert for_model(table, "NVIDIA H100 80GB HBM3", 85.0) == 83.0
    assert for_model(table, "A100", 85.0) == 85.0
    with pytest.raises(ValueError, match="not MODEL=NUMBER"):
        parse_model_table("H100:83", "x")


def test_webhooks_are_signed_and_retried_until_delivered() -> None:
    answers = [503, 500, 204]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(answers[len(seen) - 1])

    sender = WebhookSender(WebhookConfig(("http://receiver/hook",), b"key",
                                         backoff_initial_seconds=0.001,
                                         backoff_max_seconds=0.01),
                           client=httpx.Client(transport=httpx.MockTransport(handler)))
    sender.start()
    alert = Alert("xid:n:g", "xid", "critical", "n", "g", 0, (), "m", 1.0, 0.0, 1, 2)
    sender.enqueue(AlertEvent("firing", alert))
    sender.stop(flush_seconds=10)
    assert (sender.stats.sent, sender.stats.retried, sender.stats.failed) == (1, 2, 0)
    body = seen[-1].content
    assert seen[-1].headers["X-Gputel-Signature"] == \
        "sha256=" + hmac.new(b"key", body, hashlib.sha256).hexdigest() == sign(b"key", body)
    assert {r.headers["X-Gputel-Delivery"] for r in seen} == {seen[0].headers["X-Gputel-Delivery"]}
    assert json.loads(body)["alert"]["id"] == "xid:n:g"


def test_replicas_name_the_same_event_with_the_same_delivery_id() -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((json.loads(request.content)["event"], request.headers["X-Gputel-Delivery"]))
        return httpx.Response(204)

    alert = Alert("xid:n:g", "xid", "critical", "n", "g", 0, (), "m", 1.0, 0.0, 1, 2)
    again = Alert("xid:n:g", "xid", "critical", "n", "g", 0, (), "m", 1.0, 0.0, 50, 60)
    for _replica in range(2):  # each replica evaluates the rules and sends what it saw
        sender = WebhookSender(WebhookConfig(("http://receiver/hook",), b"key"),
                               client=httpx.Client(transport=httpx.MockTransport(handler)))
        sender.start()
        for event in (AlertEvent("firing", alert), AlertEvent("resolved", alert),
                      AlertEvent("firing", again)):
            sender.enqueue(event)
        sender.stop(flush_seconds=10)
    first, second = seen[:3], seen[3:]
    assert first == second  # the copies carry one id: a receiver drops them
    assert len({d for _, d in first}) == 3  # every other event its own


def test_samples_before_the_head_come_from_rollup_buckets() -> None:
    now = 1_800_000_000 * 10**9
    store = SeriesStore(10**18)
    ingest = IngestCore(store, lambda: now)
    ingest.open(hello(node="n"))
    store.append(("n", "GPU-raw-0", "energy"), np.array([now - 10**9], dtype=np.int64),
                 np.array([5.0], dtype=np.float32))
    width = 10 * 10**9
    core = QueryCore(ingest.registry, ingest.workloads, store, lambda: now,
                     rollups=_Rollups(),  # type: ignore[arg-type]
                     tiers=(Tier(width, 86400 * 10**9),), head_ns=60 * 10**9)
    ts, values, used = core.samples("n", "GPU-raw-0", "energy", now - 3600 * 10**9, now, "last")
    assert used == width
    assert ts.tolist() == [width - 1, now - 10**9]  # the bucket's last instant, then raw
    assert values.tolist() == [1.0, 5.0]
