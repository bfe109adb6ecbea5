from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProtocolVersion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROTOCOL_VERSION_UNSPECIFIED: _ClassVar[ProtocolVersion]
    PROTOCOL_VERSION_1: _ClassVar[ProtocolVersion]

class AttributionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTRIBUTION_STATE_UNSPECIFIED: _ClassVar[AttributionState]
    ATTRIBUTION_STATE_UP: _ClassVar[AttributionState]
    ATTRIBUTION_STATE_DOWN: _ClassVar[AttributionState]
PROTOCOL_VERSION_UNSPECIFIED: ProtocolVersion
PROTOCOL_VERSION_1: ProtocolVersion
ATTRIBUTION_STATE_UNSPECIFIED: AttributionState
ATTRIBUTION_STATE_UP: AttributionState
ATTRIBUTION_STATE_DOWN: AttributionState

class AgentMessage(_message.Message):
    __slots__ = ("hello", "frame")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    frame: Frame
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., frame: _Optional[_Union[Frame, _Mapping]] = ...) -> None: ...

class CollectorMessage(_message.Message):
    __slots__ = ("welcome", "ack")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    ack: Ack
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("protocol_version", "node", "agent_instance", "devices", "metrics", "backend", "sample_rate_hz", "agent_version")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    protocol_version: ProtocolVersion
    node: str
    agent_instance: str
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    metrics: _containers.RepeatedScalarFieldContainer[str]
    backend: str
    sample_rate_hz: float
    agent_version: str
    def __init__(self, protocol_version: _Optional[_Union[ProtocolVersion, str]] = ..., node: _Optional[str] = ..., agent_instance: _Optional[str] = ..., devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., metrics: _Optional[_Iterable[str]] = ..., backend: _Optional[str] = ..., sample_rate_hz: _Optional[float] = ..., agent_version: _Optional[str] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("index", "uuid", "vendor", "model", "memory_total_bytes", "mig_parent_uuid", "pci_bus_id")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    MIG_PARENT_UUID_FIELD_NUMBER: _ClassVar[int]
    PCI_BUS_ID_FIELD_NUMBER: _ClassVar[int]
    index: int
    uuid: str
    vendor: str
    model: str
    memory_total_bytes: int
    mig_parent_uuid: str
    pci_bus_id: str
    def __init__(self, index: _Optional[int] = ..., uuid: _Optional[str] = ..., vendor: _Optional[str] = ..., model: _Optional[str] = ..., memory_total_bytes: _Optional[int] = ..., mig_parent_uuid: _Optional[str] = ..., pci_bus_id: _Optional[str] = ...) -> None: ...

class Frame(_message.Message):
    __slots__ = ("seq", "blocks", "holdings", "workloads", "attribution")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    HOLDINGS_FIELD_NUMBER: _ClassVar[int]
    WORKLOADS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    seq: int
    blocks: _containers.RepeatedCompositeFieldContainer[DeviceBlock]
    holdings: _containers.RepeatedCompositeFieldContainer[Holding]
    workloads: _containers.RepeatedCompositeFieldContainer[Workload]
    attribution: AttributionState
    def __init__(self, seq: _Optional[int] = ..., blocks: _Optional[_Iterable[_Union[DeviceBlock, _Mapping]]] = ..., holdings: _Optional[_Iterable[_Union[Holding, _Mapping]]] = ..., workloads: _Optional[_Iterable[_Union[Workload, _Mapping]]] = ..., attribution: _Optional[_Union[AttributionState, str]] = ...) -> None: ...

class Holding(_message.Message):
    __slots__ = ("device", "since_ts_ns", "shares")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SINCE_TS_NS_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    device: int
    since_ts_ns: int
    shares: _containers.RepeatedCompositeFieldContainer[Share]
    def __init__(self, device: _Optional[int] = ..., since_ts_ns: _Optional[int] = ..., shares: _Optional[_Iterable[_Union[Share, _Mapping]]] = ...) -> None: ...

class Share(_message.Message):
    __slots__ = ("workload", "fraction")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    workload: str
    fraction: float
    def __init__(self, workload: _Optional[str] = ..., fraction: _Optional[float] = ...) -> None: ...

class Workload(_message.Message):
    __slots__ = ("uid", "kind", "namespace", "pod", "container", "labels", "owners", "pod_uid")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    UID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    POD_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    POD_UID_FIELD_NUMBER: _ClassVar[int]
    uid: str
    kind: str
    namespace: str
    pod: str
    container: str
    labels: _containers.ScalarMap[str, str]
    owners: _containers.RepeatedCompositeFieldContainer[Owner]
    pod_uid: str
    def __init__(self, uid: _Optional[str] = ..., kind: _Optional[str] = ..., namespace: _Optional[str] = ..., pod: _Optional[str] = ..., container: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., owners: _Optional[_Iterable[_Union[Owner, _Mapping]]] = ..., pod_uid: _Optional[str] = ...) -> None: ...

class Owner(_message.Message):
    __slots__ = ("kind", "name")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeviceBlock(_message.Message):
    __slots__ = ("device", "metrics", "base_ts_ns", "ts_delta_ns", "values")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    BASE_TS_NS_FIELD_NUMBER: _ClassVar[int]
    TS_DELTA_NS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    device: int
    metrics: _containers.RepeatedScalarFieldContainer[int]
    base_ts_ns: int
    ts_delta_ns: _containers.RepeatedScalarFieldContainer[int]
    values: bytes
    def __init__(self, device: _Optional[int] = ..., metrics: _Optional[_Iterable[int]] = ..., base_ts_ns: _Optional[int] = ..., ts_delta_ns: _Optional[_Iterable[int]] = ..., values: _Optional[bytes] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("collector_version", "acked_through")
    COLLECTOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACKED_THROUGH_FIELD_NUMBER: _ClassVar[int]
    collector_version: str
    acked_through: int
    def __init__(self, collector_version: _Optional[str] = ..., acked_through: _Optional[int] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("seq", "duplicate")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    duplicate: bool
    def __init__(self, seq: _Optional[int] = ..., duplicate: bool = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ...) -> None: ...

class GetNodeRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("name", "connected", "backend", "agent_instance", "agent_version", "sample_rate_hz", "gpu_count", "gpu_models", "first_seen_ns", "last_seen_ns", "frames_ingested", "samples_ingested")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    GPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    GPU_MODELS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_NS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_NS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_INGESTED_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_INGESTED_FIELD_NUMBER: _ClassVar[int]
    name: str
    connected: bool
    backend: str
    agent_instance: str
    agent_version: str
    sample_rate_hz: float
    gpu_count: int
    gpu_models: _containers.RepeatedScalarFieldContainer[str]
    first_seen_ns: int
    last_seen_ns: int
    frames_ingested: int
    samples_ingested: int
    def __init__(self, name: _Optional[str] = ..., connected: bool = ..., backend: _Optional[str] = ..., agent_instance: _Optional[str] = ..., agent_version: _Optional[str] = ..., sample_rate_hz: _Optional[float] = ..., gpu_count: _Optional[int] = ..., gpu_models: _Optional[_Iterable[str]] = ..., first_seen_ns: _Optional[int] = ..., last_seen_ns: _Optional[int] = ..., frames_ingested: _Optional[int] = ..., samples_ingested: _Optional[int] = ...) -> None: ...

class ListDevicesRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class ListDevicesResponse(_message.Message):
    __slots__ = ("devices",)
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[DeviceInfo]
    def __init__(self, devices: _Optional[_Iterable[_Union[DeviceInfo, _Mapping]]] = ...) -> None: ...

class DeviceInfo(_message.Message):
    __slots__ = ("node", "device", "latest", "latest_ts_ns")
    class LatestEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NODE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    LATEST_TS_NS_FIELD_NUMBER: _ClassVar[int]
    node: str
    device: Device
    latest: _containers.ScalarMap[str, float]
    latest_ts_ns: int
    def __init__(self, node: _Optional[str] = ..., device: _Optional[_Union[Device, _Mapping]] = ..., latest: _Optional[_Mapping[str, float]] = ..., latest_ts_ns: _Optional[int] = ...) -> None: ...

class QueryRangeRequest(_message.Message):
    __slots__ = ("node", "metric", "start_ns", "end_ns", "step_ns", "agg", "gpu")
    NODE_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    STEP_NS_FIELD_NUMBER: _ClassVar[int]
    AGG_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    node: str
    metric: str
    start_ns: int
    end_ns: int
    step_ns: int
    agg: str
    gpu: str
    def __init__(self, node: _Optional[str] = ..., metric: _Optional[str] = ..., start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., step_ns: _Optional[int] = ..., agg: _Optional[str] = ..., gpu: _Optional[str] = ...) -> None: ...

class QueryRangeResponse(_message.Message):
    __slots__ = ("node", "metric", "unit", "agg", "start_ns", "end_ns", "step_ns", "gpus", "node_total")
    NODE_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    AGG_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    STEP_NS_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    NODE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    node: str
    metric: str
    unit: str
    agg: str
    start_ns: int
    end_ns: int
    step_ns: int
    gpus: _containers.RepeatedCompositeFieldContainer[Series]
    node_total: Series
    def __init__(self, node: _Optional[str] = ..., metric: _Optional[str] = ..., unit: _Optional[str] = ..., agg: _Optional[str] = ..., start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., step_ns: _Optional[int] = ..., gpus: _Optional[_Iterable[_Union[Series, _Mapping]]] = ..., node_total: _Optional[_Union[Series, _Mapping]] = ...) -> None: ...

class Series(_message.Message):
    __slots__ = ("gpu", "index", "ts_ns", "values")
    GPU_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    gpu: str
    index: int
    ts_ns: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, gpu: _Optional[str] = ..., index: _Optional[int] = ..., ts_ns: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...
