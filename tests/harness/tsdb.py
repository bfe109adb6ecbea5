"""Real TSDBs for the remote-store tests: VictoriaMetrics single-node and Prometheus with
its remote-write receiver, started as the README asks, and collector settings over them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gputel.collector.storage.tsdb import TsdbEndpoints
from tests.prometheus.promserver import PrometheusServer, TsdbServer, VictoriaMetricsServer

REMOTE_BACKENDS = ("victoria-metrics", "prometheus")
# Figures a collector sums in float64 and another reads back from VictoriaMetrics, which
# keeps 12 significant decimal digits: compared at 10.
DIGITS = 10
# Alerts whose value is an age (gpu_lost: seconds without a sample) measure it at each
# collector's own evaluation: their value and message are that instant's.
AGED_RULES = frozenset({"gpu_lost"})


def start_tsdb(kind: str, workdir: Path) -> TsdbServer:
    """A started VictoriaMetrics or Prometheus (out-of-order window on, as the README asks)."""
    if kind == "victoria-metrics":
        return VictoriaMetricsServer(workdir).start()
    return PrometheusServer(workdir, remote_write_receiver=True,
                            out_of_order_window="1h").start()


def searchable(server: TsdbServer) -> bool:
    """Make what the TSDB accepted searchable now (VictoriaMetrics buffers new series for
    up to ~15 s; Prometheus needs nothing); True, for use inside wait_until predicates."""
    if isinstance(server, VictoriaMetricsServer):
        server.flush()
    return True


def remote_config(server: TsdbServer, **more: object) -> dict[str, object]:
    """CollectorConfig fields of a collector over `server`."""
    return {"tsdb": TsdbEndpoints.build("prometheus", server.base), "tsdb_sync_seconds": 0.2,
            **more}


def comparable(value: Any, own: frozenset[str] | set[str] = frozenset()) -> Any:
    """An answer's data with the fields in `own` left out (at any depth), an aged alert's
    value and message too, and floats at DIGITS significant digits, for comparing two
    collectors' answers."""
    if isinstance(value, dict):
        if value.get("rule") in AGED_RULES:
            own = {*own, "value", "message"}
        return {k: comparable(v, own) for k, v in value.items() if k not in own}
    if isinstance(value, list):
        return [comparable(v, own) for v in value]
    if isinstance(value, float) and value:
        return float(f"{value:.{DIGITS}g}")
    return value
