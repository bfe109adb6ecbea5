"""The HTTP answer models: an alert in a webhook body is the alert the API answers, and a
route's JSON is its model's dump (field order, camelCase, null where NaN)."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from gputel.collector.api.http.cluster_models import AlertOut, HeatmapRowOut
from gputel.collector.api.http.models import NodeDetailOut
from gputel.collector.api.http.wire import Answer
from gputel.collector.outbound.webhooks import alert_json
from gputel.collector.query.alerts import Alert
from gputel.collector.query.cluster import HeatmapRow
from tests.api.conftest import Fed

NODE_ALERT = Alert("node_unreachable:n3", "node_unreachable", "critical", "n3", "", -1, (),
                   "n3 is unreachable", None, None, 1_790_000_000_000_000_000,
                   1_790_000_000_500_000_000)
GPU_ALERT = Alert("xid:n2:GPU-n2-0", "xid", "critical", "n2", "GPU-n2-0", 0, ("ml/a", "ml/b"),
                  "2 XID events", 2.0, 0.0, 1_790_000_000_000_000_001, 1_790_000_000_100_000_000,
                  resolved_ns=1_790_000_001_000_000_000, acknowledged_by="ops",
                  acknowledged_ns=1_790_000_000_200_000_000)


@pytest.mark.parametrize("alert", [NODE_ALERT, GPU_ALERT], ids=["node", "gpu"])
def test_a_webhook_alert_is_the_alert_the_api_answers(alert: Alert) -> None:
    api = AlertOut.from_core(alert).model_dump_json(by_alias=True)
    assert json.dumps(alert_json(alert), separators=(",", ":")) == api


def test_a_heatmap_row_writes_null_where_a_column_is_empty() -> None:
    row = HeatmapRow("n1", "GPU-n1-0", 0, "Alpha", 2.5, np.array([1.0, np.nan, 4.0]))
    body = json.loads(HeatmapRowOut.from_core(row).model_dump_json(by_alias=True))
    assert body == {"node": "n1", "gpu": "GPU-n1-0", "index": 0, "model": "Alpha",
                    "mean": 2.5, "values": [1.0, None, 4.0]}


def test_an_answer_is_its_model_dumped_in_field_order(fed: Fed) -> None:
    """The node answer, re-read into its model and dumped again, is the same bytes: keys in
    model order, camelCase, nothing the model does not declare."""
    response = httpx.get(f"{fed.api}/nodes/n1", timeout=10)
    assert response.status_code == 200
    model = Answer[NodeDetailOut]
    again = model.model_validate_json(response.content).model_dump_json(by_alias=True)
    assert again.encode() == response.content
    assert list(response.json()["data"])[:3] == ["name", "connected", "backend"]
