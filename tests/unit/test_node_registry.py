"""The node registry finds a GPU by UUID through its index, kept right as nodes come,
change their GPUs and go."""

from __future__ import annotations

from gputel.collector.registry.nodes import DeviceRecord, NodeRegistry, NodeState


def _node(name: str, *uuids: str) -> NodeState:
    devices = [DeviceRecord(name, i, u, "nvidia", "H200", 141 << 30, "", "")
               for i, u in enumerate(uuids)]
    return NodeState(name, "nvml", "i-1", "1", 10.0, devices, 1, 2)


def _where(registry: NodeRegistry, uuid: str, node: str | None = None
           ) -> tuple[str, int] | None:
    found = registry.find(uuid, node)
    return None if found is None else (found[0].name, found[1].index)


def test_a_gpu_is_found_on_its_node_and_a_repeated_uuid_on_the_first_node_by_name() -> None:
    registry = NodeRegistry()
    registry.put(_node("b", "GPU-shared", "GPU-b1"))
    registry.put(_node("a", "GPU-a0", "GPU-shared"))
    assert _where(registry, "GPU-b1") == ("b", 1)
    assert _where(registry, "GPU-shared") == ("a", 1)  # "a" < "b"
    assert _where(registry, "GPU-shared", "b") == ("b", 0)
    assert registry.find("GPU-b1", node="a") is None
    assert registry.find("GPU-none") is None


def test_the_index_follows_a_new_hello_and_a_forgotten_node() -> None:
    registry = NodeRegistry()
    registry.put(_node("a", "GPU-old", "GPU-kept"))
    registry.put(_node("a", "GPU-kept", "GPU-new"))  # the node's GPUs changed
    assert registry.find("GPU-old") is None
    assert _where(registry, "GPU-new") == ("a", 1)
    registry.pop("a")
    assert registry.find("GPU-kept") is None
    assert registry._by_uuid == {}  # nothing left behind for a node that went


def test_what_find_returns_is_a_copy() -> None:
    registry = NodeRegistry()
    registry.put(_node("a", "GPU-0"))
    found = registry.find("GPU-0")
    assert found is not None
    found[0].frames = 99
    again = registry.find("GPU-0")
    assert again is not None
    assert again[0].frames == 0
