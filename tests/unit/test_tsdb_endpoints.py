"""The TSDB URL layouts: Prometheus-style and VictoriaMetrics cluster (not in Debian, so
its URL building is tested here; the single-node server and Prometheus run for real in
tests/scaleout)."""

from __future__ import annotations

import pytest

from gputel.collector.storage.tsdb import TsdbEndpoints


def test_prometheus_layout_writes_and_reads_under_one_base() -> None:
    got = TsdbEndpoints.build("prometheus", "http://vm:8428/")
    assert got == TsdbEndpoints("http://vm:8428/api/v1/write", "http://vm:8428")


def test_prometheus_layout_takes_a_full_write_endpoint_and_a_read_prefix() -> None:
    got = TsdbEndpoints.build("prometheus", write_url="http://mimir/api/v1/push",
                              read_url="http://mimir/prometheus")
    assert got == TsdbEndpoints("http://mimir/api/v1/push", "http://mimir/prometheus")


def test_vm_cluster_layout_puts_the_tenant_in_both_paths() -> None:
    got = TsdbEndpoints.build("vm-cluster", write_url="http://vminsert:8480",
                              read_url="http://vmselect:8481/", tenant="42:7")
    assert got == TsdbEndpoints("http://vminsert:8480/insert/42:7/prometheus/api/v1/write",
                                "http://vmselect:8481/select/42:7/prometheus")


@pytest.mark.parametrize(("layout", "kwargs", "message"), [
    ("prometheus", {}, "--tsdb-url"),
    ("prometheus", {"url": "vm:8428"}, "not http"),
    ("vm-cluster", {"url": "http://vm", "tenant": "a"}, "tenant"),
    ("thanos", {"url": "http://vm"}, "layout"),
])
def test_bad_settings_are_refused_naming_the_problem(layout: str, kwargs: dict[str, str],
                                                     message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TsdbEndpoints.build(layout, **kwargs)
