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
    __slots__ = ("protocol_version", "node", "agent_instance", "devices", "metrics", "backend", "sample_rate_hz", "agent_version", "inventory")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    protocol_version: ProtocolVersion
    node: str
    agent_instance: str
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    metrics: _containers.RepeatedScalarFieldContainer[str]
    backend: str
    sample_rate_hz: float
    agent_version: str
    inventory: _containers.RepeatedCompositeFieldContainer[GpuInventory]
    def __init__(self, protocol_version: _Optional[_Union[ProtocolVersion, str]] = ..., node: _Optional[str] = ..., agent_instance: _Optional[str] = ..., devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., metrics: _Optional[_Iterable[str]] = ..., backend: _Optional[str] = ..., sample_rate_hz: _Optional[float] = ..., agent_version: _Optional[str] = ..., inventory: _Optional[_Iterable[_Union[GpuInventory, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("seq", "blocks", "holdings", "workloads", "attribution", "inventory", "processes")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    HOLDINGS_FIELD_NUMBER: _ClassVar[int]
    WORKLOADS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    seq: int
    blocks: _containers.RepeatedCompositeFieldContainer[DeviceBlock]
    holdings: _containers.RepeatedCompositeFieldContainer[Holding]
    workloads: _containers.RepeatedCompositeFieldContainer[Workload]
    attribution: AttributionState
    inventory: _containers.RepeatedCompositeFieldContainer[GpuInventory]
    processes: _containers.RepeatedCompositeFieldContainer[DeviceProcesses]
    def __init__(self, seq: _Optional[int] = ..., blocks: _Optional[_Iterable[_Union[DeviceBlock, _Mapping]]] = ..., holdings: _Optional[_Iterable[_Union[Holding, _Mapping]]] = ..., workloads: _Optional[_Iterable[_Union[Workload, _Mapping]]] = ..., attribution: _Optional[_Union[AttributionState, str]] = ..., inventory: _Optional[_Iterable[_Union[GpuInventory, _Mapping]]] = ..., processes: _Optional[_Iterable[_Union[DeviceProcesses, _Mapping]]] = ...) -> None: ...

class GpuInventory(_message.Message):
    __slots__ = ("device", "read_ts_ns", "power_limit_watts", "memory_reserved_bytes", "driver_version", "firmware_version", "vbios_version", "serial", "architecture", "mig_supported", "mig_enabled", "mig_profile", "fan_speed_percent", "memory_clock_mhz", "pcie_generation", "pcie_width", "pcie_max_generation", "pcie_max_width", "ecc_enabled")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    READ_TS_NS_FIELD_NUMBER: _ClassVar[int]
    POWER_LIMIT_WATTS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_RESERVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    DRIVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    VBIOS_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    MIG_SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    MIG_ENABLED_FIELD_NUMBER: _ClassVar[int]
    MIG_PROFILE_FIELD_NUMBER: _ClassVar[int]
    FAN_SPEED_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_CLOCK_MHZ_FIELD_NUMBER: _ClassVar[int]
    PCIE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    PCIE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    PCIE_MAX_GENERATION_FIELD_NUMBER: _ClassVar[int]
    PCIE_MAX_WIDTH_FIELD_NUMBER: _ClassVar[int]
    ECC_ENABLED_FIELD_NUMBER: _ClassVar[int]
    device: int
    read_ts_ns: int
    power_limit_watts: float
    memory_reserved_bytes: int
    driver_version: str
    firmware_version: str
    vbios_version: str
    serial: str
    architecture: str
    mig_supported: bool
    mig_enabled: bool
    mig_profile: str
    fan_speed_percent: float
    memory_clock_mhz: float
    pcie_generation: int
    pcie_width: int
    pcie_max_generation: int
    pcie_max_width: int
    ecc_enabled: bool
    def __init__(self, device: _Optional[int] = ..., read_ts_ns: _Optional[int] = ..., power_limit_watts: _Optional[float] = ..., memory_reserved_bytes: _Optional[int] = ..., driver_version: _Optional[str] = ..., firmware_version: _Optional[str] = ..., vbios_version: _Optional[str] = ..., serial: _Optional[str] = ..., architecture: _Optional[str] = ..., mig_supported: bool = ..., mig_enabled: bool = ..., mig_profile: _Optional[str] = ..., fan_speed_percent: _Optional[float] = ..., memory_clock_mhz: _Optional[float] = ..., pcie_generation: _Optional[int] = ..., pcie_width: _Optional[int] = ..., pcie_max_generation: _Optional[int] = ..., pcie_max_width: _Optional[int] = ..., ecc_enabled: bool = ...) -> None: ...

class GpuProcess(_message.Message):
    __slots__ = ("pid", "name", "used_memory_bytes", "container_id", "workload", "namespace", "pod", "container")
    PID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    USED_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    POD_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    pid: int
    name: str
    used_memory_bytes: int
    container_id: str
    workload: str
    namespace: str
    pod: str
    container: str
    def __init__(self, pid: _Optional[int] = ..., name: _Optional[str] = ..., used_memory_bytes: _Optional[int] = ..., container_id: _Optional[str] = ..., workload: _Optional[str] = ..., namespace: _Optional[str] = ..., pod: _Optional[str] = ..., container: _Optional[str] = ...) -> None: ...

class DeviceProcesses(_message.Message):
    __slots__ = ("device", "read_ts_ns", "processes")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    READ_TS_NS_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    device: int
    read_ts_ns: int
    processes: _containers.RepeatedCompositeFieldContainer[GpuProcess]
    def __init__(self, device: _Optional[int] = ..., read_ts_ns: _Optional[int] = ..., processes: _Optional[_Iterable[_Union[GpuProcess, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("kind", "name", "uid", "api_version")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    uid: str
    api_version: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., uid: _Optional[str] = ..., api_version: _Optional[str] = ...) -> None: ...

class DeviceBlock(_message.Message):
    __slots__ = ("device", "metrics", "base_ts_ns", "ts_delta_ns", "values", "int_metrics", "int_values", "int_present", "ts_step_ns", "ts_of_block")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    BASE_TS_NS_FIELD_NUMBER: _ClassVar[int]
    TS_DELTA_NS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    INT_METRICS_FIELD_NUMBER: _ClassVar[int]
    INT_VALUES_FIELD_NUMBER: _ClassVar[int]
    INT_PRESENT_FIELD_NUMBER: _ClassVar[int]
    TS_STEP_NS_FIELD_NUMBER: _ClassVar[int]
    TS_OF_BLOCK_FIELD_NUMBER: _ClassVar[int]
    device: int
    metrics: _containers.RepeatedScalarFieldContainer[int]
    base_ts_ns: int
    ts_delta_ns: _containers.RepeatedScalarFieldContainer[int]
    values: bytes
    int_metrics: _containers.RepeatedScalarFieldContainer[int]
    int_values: _containers.RepeatedScalarFieldContainer[int]
    int_present: bytes
    ts_step_ns: int
    ts_of_block: int
    def __init__(self, device: _Optional[int] = ..., metrics: _Optional[_Iterable[int]] = ..., base_ts_ns: _Optional[int] = ..., ts_delta_ns: _Optional[_Iterable[int]] = ..., values: _Optional[bytes] = ..., int_metrics: _Optional[_Iterable[int]] = ..., int_values: _Optional[_Iterable[int]] = ..., int_present: _Optional[bytes] = ..., ts_step_ns: _Optional[int] = ..., ts_of_block: _Optional[int] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("collector_version", "acked_through", "collector_time_ns", "shared_timestamps")
    COLLECTOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACKED_THROUGH_FIELD_NUMBER: _ClassVar[int]
    COLLECTOR_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    SHARED_TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    collector_version: str
    acked_through: int
    collector_time_ns: int
    shared_timestamps: bool
    def __init__(self, collector_version: _Optional[str] = ..., acked_through: _Optional[int] = ..., collector_time_ns: _Optional[int] = ..., shared_timestamps: bool = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("seq", "duplicate")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    duplicate: bool
    def __init__(self, seq: _Optional[int] = ..., duplicate: bool = ...) -> None: ...

class PageRequest(_message.Message):
    __slots__ = ("page", "page_size")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    page: int
    page_size: int
    def __init__(self, page: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class PageInfo(_message.Message):
    __slots__ = ("total", "page", "page_size")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    total: int
    page: int
    page_size: int
    def __init__(self, total: _Optional[int] = ..., page: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class GetHealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TierInfo(_message.Message):
    __slots__ = ("step_seconds", "retention_seconds")
    STEP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    step_seconds: float
    retention_seconds: float
    def __init__(self, step_seconds: _Optional[float] = ..., retention_seconds: _Optional[float] = ...) -> None: ...

class StoreHealth(_message.Message):
    __slots__ = ("kind", "status", "samples", "retention_seconds", "path", "size_bytes", "write_failures", "tiers")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    RETENTION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    WRITE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    status: str
    samples: int
    retention_seconds: float
    path: str
    size_bytes: int
    write_failures: int
    tiers: _containers.RepeatedCompositeFieldContainer[TierInfo]
    def __init__(self, kind: _Optional[str] = ..., status: _Optional[str] = ..., samples: _Optional[int] = ..., retention_seconds: _Optional[float] = ..., path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., write_failures: _Optional[int] = ..., tiers: _Optional[_Iterable[_Union[TierInfo, _Mapping]]] = ...) -> None: ...

class Health(_message.Message):
    __slots__ = ("status", "version", "store", "connected_agents", "nodes", "active_alerts", "uptime_seconds", "compat")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_AGENTS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ALERTS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    COMPAT_FIELD_NUMBER: _ClassVar[int]
    status: str
    version: str
    store: StoreHealth
    connected_agents: int
    nodes: int
    active_alerts: int
    uptime_seconds: float
    compat: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, status: _Optional[str] = ..., version: _Optional[str] = ..., store: _Optional[_Union[StoreHealth, _Mapping]] = ..., connected_agents: _Optional[int] = ..., nodes: _Optional[int] = ..., active_alerts: _Optional[int] = ..., uptime_seconds: _Optional[float] = ..., compat: _Optional[_Iterable[str]] = ...) -> None: ...

class GetOverviewRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Overview(_message.Message):
    __slots__ = ("total_nodes", "healthy_nodes", "faulty_nodes", "fully_idle_nodes", "partially_idle_nodes", "busy_nodes", "total_gpus", "allocated_gpus", "lost_gpus", "allocation_rate", "gpu_utilization", "power_watts", "active_alerts", "busy_threshold_percent")
    TOTAL_NODES_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_NODES_FIELD_NUMBER: _ClassVar[int]
    FAULTY_NODES_FIELD_NUMBER: _ClassVar[int]
    FULLY_IDLE_NODES_FIELD_NUMBER: _ClassVar[int]
    PARTIALLY_IDLE_NODES_FIELD_NUMBER: _ClassVar[int]
    BUSY_NODES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_GPUS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_GPUS_FIELD_NUMBER: _ClassVar[int]
    LOST_GPUS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_RATE_FIELD_NUMBER: _ClassVar[int]
    GPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    POWER_WATTS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ALERTS_FIELD_NUMBER: _ClassVar[int]
    BUSY_THRESHOLD_PERCENT_FIELD_NUMBER: _ClassVar[int]
    total_nodes: int
    healthy_nodes: int
    faulty_nodes: int
    fully_idle_nodes: int
    partially_idle_nodes: int
    busy_nodes: int
    total_gpus: int
    allocated_gpus: int
    lost_gpus: int
    allocation_rate: float
    gpu_utilization: float
    power_watts: float
    active_alerts: int
    busy_threshold_percent: float
    def __init__(self, total_nodes: _Optional[int] = ..., healthy_nodes: _Optional[int] = ..., faulty_nodes: _Optional[int] = ..., fully_idle_nodes: _Optional[int] = ..., partially_idle_nodes: _Optional[int] = ..., busy_nodes: _Optional[int] = ..., total_gpus: _Optional[int] = ..., allocated_gpus: _Optional[int] = ..., lost_gpus: _Optional[int] = ..., allocation_rate: _Optional[float] = ..., gpu_utilization: _Optional[float] = ..., power_watts: _Optional[float] = ..., active_alerts: _Optional[int] = ..., busy_threshold_percent: _Optional[float] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ("model", "status", "page")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    model: str
    status: str
    page: PageRequest
    def __init__(self, model: _Optional[str] = ..., status: _Optional[str] = ..., page: _Optional[_Union[PageRequest, _Mapping]] = ...) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes", "page")
    NODES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    page: PageInfo
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ..., page: _Optional[_Union[PageInfo, _Mapping]] = ...) -> None: ...

class GetNodeRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("name", "connected", "backend", "agent_instance", "agent_version", "sample_rate_hz", "gpu_count", "gpu_models", "first_seen_ns", "last_seen_ns", "frames_ingested", "samples_ingested", "gpu_utilization", "power_watts", "attribution", "status", "gpus_allocated", "gpus_lost", "gpus_busy", "idle_class")
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
    GPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    POWER_WATTS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    GPUS_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    GPUS_LOST_FIELD_NUMBER: _ClassVar[int]
    GPUS_BUSY_FIELD_NUMBER: _ClassVar[int]
    IDLE_CLASS_FIELD_NUMBER: _ClassVar[int]
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
    gpu_utilization: float
    power_watts: float
    attribution: str
    status: str
    gpus_allocated: int
    gpus_lost: int
    gpus_busy: int
    idle_class: str
    def __init__(self, name: _Optional[str] = ..., connected: bool = ..., backend: _Optional[str] = ..., agent_instance: _Optional[str] = ..., agent_version: _Optional[str] = ..., sample_rate_hz: _Optional[float] = ..., gpu_count: _Optional[int] = ..., gpu_models: _Optional[_Iterable[str]] = ..., first_seen_ns: _Optional[int] = ..., last_seen_ns: _Optional[int] = ..., frames_ingested: _Optional[int] = ..., samples_ingested: _Optional[int] = ..., gpu_utilization: _Optional[float] = ..., power_watts: _Optional[float] = ..., attribution: _Optional[str] = ..., status: _Optional[str] = ..., gpus_allocated: _Optional[int] = ..., gpus_lost: _Optional[int] = ..., gpus_busy: _Optional[int] = ..., idle_class: _Optional[str] = ...) -> None: ...

class ListDevicesRequest(_message.Message):
    __slots__ = ("node", "page")
    NODE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    node: str
    page: PageRequest
    def __init__(self, node: _Optional[str] = ..., page: _Optional[_Union[PageRequest, _Mapping]] = ...) -> None: ...

class ListDevicesResponse(_message.Message):
    __slots__ = ("devices", "page")
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[DeviceInfo]
    page: PageInfo
    def __init__(self, devices: _Optional[_Iterable[_Union[DeviceInfo, _Mapping]]] = ..., page: _Optional[_Union[PageInfo, _Mapping]] = ...) -> None: ...

class Holder(_message.Message):
    __slots__ = ("workload", "fraction")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    workload: str
    fraction: float
    def __init__(self, workload: _Optional[str] = ..., fraction: _Optional[float] = ...) -> None: ...

class DeviceInfo(_message.Message):
    __slots__ = ("node", "device", "latest", "latest_ts_ns", "status", "held_by", "energy_joules", "unattributed_energy_joules", "inventory", "memory_free_bytes", "mig")
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
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HELD_BY_FIELD_NUMBER: _ClassVar[int]
    ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    UNATTRIBUTED_ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MIG_FIELD_NUMBER: _ClassVar[int]
    node: str
    device: Device
    latest: _containers.ScalarMap[str, float]
    latest_ts_ns: int
    status: str
    held_by: _containers.RepeatedCompositeFieldContainer[Holder]
    energy_joules: float
    unattributed_energy_joules: float
    inventory: GpuInventory
    memory_free_bytes: float
    mig: MigStatistics
    def __init__(self, node: _Optional[str] = ..., device: _Optional[_Union[Device, _Mapping]] = ..., latest: _Optional[_Mapping[str, float]] = ..., latest_ts_ns: _Optional[int] = ..., status: _Optional[str] = ..., held_by: _Optional[_Iterable[_Union[Holder, _Mapping]]] = ..., energy_joules: _Optional[float] = ..., unattributed_energy_joules: _Optional[float] = ..., inventory: _Optional[_Union[GpuInventory, _Mapping]] = ..., memory_free_bytes: _Optional[float] = ..., mig: _Optional[_Union[MigStatistics, _Mapping]] = ...) -> None: ...

class MigInstance(_message.Message):
    __slots__ = ("uuid", "profile", "status", "memory_used_bytes", "memory_total_bytes", "gpu_utilization")
    UUID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    GPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    uuid: str
    profile: str
    status: str
    memory_used_bytes: float
    memory_total_bytes: int
    gpu_utilization: float
    def __init__(self, uuid: _Optional[str] = ..., profile: _Optional[str] = ..., status: _Optional[str] = ..., memory_used_bytes: _Optional[float] = ..., memory_total_bytes: _Optional[int] = ..., gpu_utilization: _Optional[float] = ...) -> None: ...

class MigStatistics(_message.Message):
    __slots__ = ("enabled", "count", "profiles", "allocated", "memory_used_bytes", "gpu_utilization", "instances")
    class ProfilesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    GPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    count: int
    profiles: _containers.ScalarMap[str, int]
    allocated: int
    memory_used_bytes: float
    gpu_utilization: float
    instances: _containers.RepeatedCompositeFieldContainer[MigInstance]
    def __init__(self, enabled: bool = ..., count: _Optional[int] = ..., profiles: _Optional[_Mapping[str, int]] = ..., allocated: _Optional[int] = ..., memory_used_bytes: _Optional[float] = ..., gpu_utilization: _Optional[float] = ..., instances: _Optional[_Iterable[_Union[MigInstance, _Mapping]]] = ...) -> None: ...

class GpuProcessesResponse(_message.Message):
    __slots__ = ("node", "uuid", "read_ts_ns", "processes")
    NODE_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    READ_TS_NS_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    node: str
    uuid: str
    read_ts_ns: int
    processes: _containers.RepeatedCompositeFieldContainer[GpuProcess]
    def __init__(self, node: _Optional[str] = ..., uuid: _Optional[str] = ..., read_ts_ns: _Optional[int] = ..., processes: _Optional[_Iterable[_Union[GpuProcess, _Mapping]]] = ...) -> None: ...

class ListGpusRequest(_message.Message):
    __slots__ = ("node", "model", "status", "allocated", "page")
    NODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    node: str
    model: str
    status: str
    allocated: bool
    page: PageRequest
    def __init__(self, node: _Optional[str] = ..., model: _Optional[str] = ..., status: _Optional[str] = ..., allocated: bool = ..., page: _Optional[_Union[PageRequest, _Mapping]] = ...) -> None: ...

class GetGpuRequest(_message.Message):
    __slots__ = ("uuid", "node")
    UUID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    uuid: str
    node: str
    def __init__(self, uuid: _Optional[str] = ..., node: _Optional[str] = ...) -> None: ...

class ListNodeWorkloadsRequest(_message.Message):
    __slots__ = ("node", "start_ns", "end_ns", "page")
    NODE_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    node: str
    start_ns: int
    end_ns: int
    page: PageRequest
    def __init__(self, node: _Optional[str] = ..., start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., page: _Optional[_Union[PageRequest, _Mapping]] = ...) -> None: ...

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

class ListWorkloadsRequest(_message.Message):
    __slots__ = ("namespace", "kind", "status", "name", "labels", "page")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    kind: str
    status: str
    name: str
    labels: str
    page: PageRequest
    def __init__(self, namespace: _Optional[str] = ..., kind: _Optional[str] = ..., status: _Optional[str] = ..., name: _Optional[str] = ..., labels: _Optional[str] = ..., page: _Optional[_Union[PageRequest, _Mapping]] = ...) -> None: ...

class HeldGpu(_message.Message):
    __slots__ = ("node", "gpu", "fraction")
    NODE_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    node: str
    gpu: str
    fraction: float
    def __init__(self, node: _Optional[str] = ..., gpu: _Optional[str] = ..., fraction: _Optional[float] = ...) -> None: ...

class WorkloadInfo(_message.Message):
    __slots__ = ("uid", "kind", "namespace", "pod", "container", "pod_uid", "labels", "owners", "status", "first_seen_ns", "last_seen_ns", "gpus", "gpu_uuids", "power_watts", "memory_used_bytes", "utilization_percent", "energy_joules", "gpu_seconds_allocated", "gpu_seconds_busy", "held", "node_gpus", "kubernetes", "children", "api_version")
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
    POD_UID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_NS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_NS_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    GPU_UUIDS_FIELD_NUMBER: _ClassVar[int]
    POWER_WATTS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    GPU_SECONDS_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    GPU_SECONDS_BUSY_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    NODE_GPUS_FIELD_NUMBER: _ClassVar[int]
    KUBERNETES_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    uid: str
    kind: str
    namespace: str
    pod: str
    container: str
    pod_uid: str
    labels: _containers.ScalarMap[str, str]
    owners: _containers.RepeatedCompositeFieldContainer[Owner]
    status: str
    first_seen_ns: int
    last_seen_ns: int
    gpus: float
    gpu_uuids: _containers.RepeatedScalarFieldContainer[str]
    power_watts: float
    memory_used_bytes: float
    utilization_percent: float
    energy_joules: float
    gpu_seconds_allocated: float
    gpu_seconds_busy: float
    held: _containers.RepeatedCompositeFieldContainer[HeldGpu]
    node_gpus: _containers.RepeatedScalarFieldContainer[str]
    kubernetes: KubernetesPod
    children: _containers.RepeatedScalarFieldContainer[str]
    api_version: str
    def __init__(self, uid: _Optional[str] = ..., kind: _Optional[str] = ..., namespace: _Optional[str] = ..., pod: _Optional[str] = ..., container: _Optional[str] = ..., pod_uid: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., owners: _Optional[_Iterable[_Union[Owner, _Mapping]]] = ..., status: _Optional[str] = ..., first_seen_ns: _Optional[int] = ..., last_seen_ns: _Optional[int] = ..., gpus: _Optional[float] = ..., gpu_uuids: _Optional[_Iterable[str]] = ..., power_watts: _Optional[float] = ..., memory_used_bytes: _Optional[float] = ..., utilization_percent: _Optional[float] = ..., energy_joules: _Optional[float] = ..., gpu_seconds_allocated: _Optional[float] = ..., gpu_seconds_busy: _Optional[float] = ..., held: _Optional[_Iterable[_Union[HeldGpu, _Mapping]]] = ..., node_gpus: _Optional[_Iterable[str]] = ..., kubernetes: _Optional[_Union[KubernetesPod, _Mapping]] = ..., children: _Optional[_Iterable[str]] = ..., api_version: _Optional[str] = ...) -> None: ...

class KubernetesPod(_message.Message):
    __slots__ = ("phase", "node", "annotations", "created_ns", "started_ns", "gpus_requested", "waiting_seconds", "queue")
    class AnnotationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PHASE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_NS_FIELD_NUMBER: _ClassVar[int]
    STARTED_NS_FIELD_NUMBER: _ClassVar[int]
    GPUS_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    WAITING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    phase: str
    node: str
    annotations: _containers.ScalarMap[str, str]
    created_ns: int
    started_ns: int
    gpus_requested: float
    waiting_seconds: float
    queue: str
    def __init__(self, phase: _Optional[str] = ..., node: _Optional[str] = ..., annotations: _Optional[_Mapping[str, str]] = ..., created_ns: _Optional[int] = ..., started_ns: _Optional[int] = ..., gpus_requested: _Optional[float] = ..., waiting_seconds: _Optional[float] = ..., queue: _Optional[str] = ...) -> None: ...

class ListWorkloadsResponse(_message.Message):
    __slots__ = ("workloads", "page")
    WORKLOADS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    workloads: _containers.RepeatedCompositeFieldContainer[WorkloadInfo]
    page: PageInfo
    def __init__(self, workloads: _Optional[_Iterable[_Union[WorkloadInfo, _Mapping]]] = ..., page: _Optional[_Union[PageInfo, _Mapping]] = ...) -> None: ...

class GetWorkloadRequest(_message.Message):
    __slots__ = ("uid",)
    UID_FIELD_NUMBER: _ClassVar[int]
    uid: str
    def __init__(self, uid: _Optional[str] = ...) -> None: ...

class QueryWorkloadRangeRequest(_message.Message):
    __slots__ = ("uid", "metric", "start_ns", "end_ns", "step_ns", "agg")
    UID_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    STEP_NS_FIELD_NUMBER: _ClassVar[int]
    AGG_FIELD_NUMBER: _ClassVar[int]
    uid: str
    metric: str
    start_ns: int
    end_ns: int
    step_ns: int
    agg: str
    def __init__(self, uid: _Optional[str] = ..., metric: _Optional[str] = ..., start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., step_ns: _Optional[int] = ..., agg: _Optional[str] = ...) -> None: ...

class OwnerGroup(_message.Message):
    __slots__ = ("kind", "name", "workloads", "uid", "api_version")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    WORKLOADS_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    workloads: _containers.RepeatedScalarFieldContainer[str]
    uid: str
    api_version: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., workloads: _Optional[_Iterable[str]] = ..., uid: _Optional[str] = ..., api_version: _Optional[str] = ...) -> None: ...

class WorkloadHierarchy(_message.Message):
    __slots__ = ("workload", "owners", "children")
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    workload: WorkloadInfo
    owners: _containers.RepeatedCompositeFieldContainer[OwnerGroup]
    children: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, workload: _Optional[_Union[WorkloadInfo, _Mapping]] = ..., owners: _Optional[_Iterable[_Union[OwnerGroup, _Mapping]]] = ..., children: _Optional[_Iterable[str]] = ...) -> None: ...

class ListNamespacesRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: PageRequest
    def __init__(self, page: _Optional[_Union[PageRequest, _Mapping]] = ...) -> None: ...

class NamespaceInfo(_message.Message):
    __slots__ = ("namespace", "workloads", "running", "gpus", "utilization_percent", "energy_joules", "gpu_seconds_allocated", "gpu_seconds_busy", "gpu_hours", "busy_gpu_hours", "energy_kilowatt_hours", "pending", "owners")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKLOADS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    GPU_SECONDS_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    GPU_SECONDS_BUSY_FIELD_NUMBER: _ClassVar[int]
    GPU_HOURS_FIELD_NUMBER: _ClassVar[int]
    BUSY_GPU_HOURS_FIELD_NUMBER: _ClassVar[int]
    ENERGY_KILOWATT_HOURS_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workloads: int
    running: int
    gpus: float
    utilization_percent: float
    energy_joules: float
    gpu_seconds_allocated: float
    gpu_seconds_busy: float
    gpu_hours: float
    busy_gpu_hours: float
    energy_kilowatt_hours: float
    pending: int
    owners: int
    def __init__(self, namespace: _Optional[str] = ..., workloads: _Optional[int] = ..., running: _Optional[int] = ..., gpus: _Optional[float] = ..., utilization_percent: _Optional[float] = ..., energy_joules: _Optional[float] = ..., gpu_seconds_allocated: _Optional[float] = ..., gpu_seconds_busy: _Optional[float] = ..., gpu_hours: _Optional[float] = ..., busy_gpu_hours: _Optional[float] = ..., energy_kilowatt_hours: _Optional[float] = ..., pending: _Optional[int] = ..., owners: _Optional[int] = ...) -> None: ...

class ListNamespacesResponse(_message.Message):
    __slots__ = ("namespaces", "page")
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    namespaces: _containers.RepeatedCompositeFieldContainer[NamespaceInfo]
    page: PageInfo
    def __init__(self, namespaces: _Optional[_Iterable[_Union[NamespaceInfo, _Mapping]]] = ..., page: _Optional[_Union[PageInfo, _Mapping]] = ...) -> None: ...

class UtilizationHistoryRequest(_message.Message):
    __slots__ = ("start_ns", "end_ns", "step_ns")
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    STEP_NS_FIELD_NUMBER: _ClassVar[int]
    start_ns: int
    end_ns: int
    step_ns: int
    def __init__(self, start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., step_ns: _Optional[int] = ...) -> None: ...

class UtilizationPoint(_message.Message):
    __slots__ = ("ts_ns", "gpu_utilization", "gpus_reporting", "allocated_gpus", "memory_used_percent")
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    GPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    GPUS_REPORTING_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_GPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_PERCENT_FIELD_NUMBER: _ClassVar[int]
    ts_ns: int
    gpu_utilization: float
    gpus_reporting: int
    allocated_gpus: int
    memory_used_percent: float
    def __init__(self, ts_ns: _Optional[int] = ..., gpu_utilization: _Optional[float] = ..., gpus_reporting: _Optional[int] = ..., allocated_gpus: _Optional[int] = ..., memory_used_percent: _Optional[float] = ...) -> None: ...

class UtilizationHistoryResponse(_message.Message):
    __slots__ = ("start_ns", "end_ns", "step_ns", "total_gpus", "points")
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    STEP_NS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_GPUS_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    start_ns: int
    end_ns: int
    step_ns: int
    total_gpus: int
    points: _containers.RepeatedCompositeFieldContainer[UtilizationPoint]
    def __init__(self, start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., step_ns: _Optional[int] = ..., total_gpus: _Optional[int] = ..., points: _Optional[_Iterable[_Union[UtilizationPoint, _Mapping]]] = ...) -> None: ...

class HeatmapRequest(_message.Message):
    __slots__ = ("metric", "start_ns", "end_ns", "step_ns", "k", "agg")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    STEP_NS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    AGG_FIELD_NUMBER: _ClassVar[int]
    metric: str
    start_ns: int
    end_ns: int
    step_ns: int
    k: int
    agg: str
    def __init__(self, metric: _Optional[str] = ..., start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., step_ns: _Optional[int] = ..., k: _Optional[int] = ..., agg: _Optional[str] = ...) -> None: ...

class HeatmapRow(_message.Message):
    __slots__ = ("node", "gpu", "index", "model", "mean", "values")
    NODE_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    node: str
    gpu: str
    index: int
    model: str
    mean: float
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, node: _Optional[str] = ..., gpu: _Optional[str] = ..., index: _Optional[int] = ..., model: _Optional[str] = ..., mean: _Optional[float] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class HeatmapResponse(_message.Message):
    __slots__ = ("metric", "unit", "agg", "start_ns", "end_ns", "step_ns", "ts_ns", "rows", "min", "max")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    AGG_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    STEP_NS_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    metric: str
    unit: str
    agg: str
    start_ns: int
    end_ns: int
    step_ns: int
    ts_ns: _containers.RepeatedScalarFieldContainer[int]
    rows: _containers.RepeatedCompositeFieldContainer[HeatmapRow]
    min: float
    max: float
    def __init__(self, metric: _Optional[str] = ..., unit: _Optional[str] = ..., agg: _Optional[str] = ..., start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., step_ns: _Optional[int] = ..., ts_ns: _Optional[_Iterable[int]] = ..., rows: _Optional[_Iterable[_Union[HeatmapRow, _Mapping]]] = ..., min: _Optional[float] = ..., max: _Optional[float] = ...) -> None: ...

class TopRequest(_message.Message):
    __slots__ = ("by", "metric", "limit")
    BY_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    by: str
    metric: str
    limit: int
    def __init__(self, by: _Optional[str] = ..., metric: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class TopEntry(_message.Message):
    __slots__ = ("rank", "kind", "id", "namespace", "name", "value")
    RANK_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    rank: int
    kind: str
    id: str
    namespace: str
    name: str
    value: float
    def __init__(self, rank: _Optional[int] = ..., kind: _Optional[str] = ..., id: _Optional[str] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...

class TopResponse(_message.Message):
    __slots__ = ("by", "metric", "unit", "entries")
    BY_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    by: str
    metric: str
    unit: str
    entries: _containers.RepeatedCompositeFieldContainer[TopEntry]
    def __init__(self, by: _Optional[str] = ..., metric: _Optional[str] = ..., unit: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[TopEntry, _Mapping]]] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("state", "rule", "node", "severity", "gpu", "page")
    STATE_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    state: str
    rule: str
    node: str
    severity: str
    gpu: str
    page: PageRequest
    def __init__(self, state: _Optional[str] = ..., rule: _Optional[str] = ..., node: _Optional[str] = ..., severity: _Optional[str] = ..., gpu: _Optional[str] = ..., page: _Optional[_Union[PageRequest, _Mapping]] = ...) -> None: ...

class AlertInfo(_message.Message):
    __slots__ = ("id", "rule", "severity", "state", "node", "gpu", "gpu_index", "workloads", "message", "value", "threshold", "since_ns", "updated_ns", "resolved_ns", "acknowledged_by", "acknowledged_ns")
    ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    GPU_INDEX_FIELD_NUMBER: _ClassVar[int]
    WORKLOADS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SINCE_NS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_NS_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_NS_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_BY_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_NS_FIELD_NUMBER: _ClassVar[int]
    id: str
    rule: str
    severity: str
    state: str
    node: str
    gpu: str
    gpu_index: int
    workloads: _containers.RepeatedScalarFieldContainer[str]
    message: str
    value: float
    threshold: float
    since_ns: int
    updated_ns: int
    resolved_ns: int
    acknowledged_by: str
    acknowledged_ns: int
    def __init__(self, id: _Optional[str] = ..., rule: _Optional[str] = ..., severity: _Optional[str] = ..., state: _Optional[str] = ..., node: _Optional[str] = ..., gpu: _Optional[str] = ..., gpu_index: _Optional[int] = ..., workloads: _Optional[_Iterable[str]] = ..., message: _Optional[str] = ..., value: _Optional[float] = ..., threshold: _Optional[float] = ..., since_ns: _Optional[int] = ..., updated_ns: _Optional[int] = ..., resolved_ns: _Optional[int] = ..., acknowledged_by: _Optional[str] = ..., acknowledged_ns: _Optional[int] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts", "page")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[AlertInfo]
    page: PageInfo
    def __init__(self, alerts: _Optional[_Iterable[_Union[AlertInfo, _Mapping]]] = ..., page: _Optional[_Union[PageInfo, _Mapping]] = ...) -> None: ...

class AcknowledgeAlertRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UsageStatisticsRequest(_message.Message):
    __slots__ = ("hours",)
    HOURS_FIELD_NUMBER: _ClassVar[int]
    hours: float
    def __init__(self, hours: _Optional[float] = ...) -> None: ...

class UsageStats(_message.Message):
    __slots__ = ("samples", "gpu_utilization", "memory_utilization", "memory_used_bytes", "temperature_celsius", "temperature_max_celsius")
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    GPU_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    MEMORY_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_CELSIUS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_MAX_CELSIUS_FIELD_NUMBER: _ClassVar[int]
    samples: int
    gpu_utilization: float
    memory_utilization: float
    memory_used_bytes: float
    temperature_celsius: float
    temperature_max_celsius: float
    def __init__(self, samples: _Optional[int] = ..., gpu_utilization: _Optional[float] = ..., memory_utilization: _Optional[float] = ..., memory_used_bytes: _Optional[float] = ..., temperature_celsius: _Optional[float] = ..., temperature_max_celsius: _Optional[float] = ...) -> None: ...

class DeviceUsageStats(_message.Message):
    __slots__ = ("node", "gpu", "index", "model", "stats")
    NODE_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    node: str
    gpu: str
    index: int
    model: str
    stats: UsageStats
    def __init__(self, node: _Optional[str] = ..., gpu: _Optional[str] = ..., index: _Optional[int] = ..., model: _Optional[str] = ..., stats: _Optional[_Union[UsageStats, _Mapping]] = ...) -> None: ...

class ModelUsageStats(_message.Message):
    __slots__ = ("model", "gpus", "stats")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    model: str
    gpus: int
    stats: UsageStats
    def __init__(self, model: _Optional[str] = ..., gpus: _Optional[int] = ..., stats: _Optional[_Union[UsageStats, _Mapping]] = ...) -> None: ...

class UsageStatisticsResponse(_message.Message):
    __slots__ = ("hours", "start_ns", "end_ns", "devices", "models")
    HOURS_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    hours: float
    start_ns: int
    end_ns: int
    devices: _containers.RepeatedCompositeFieldContainer[DeviceUsageStats]
    models: _containers.RepeatedCompositeFieldContainer[ModelUsageStats]
    def __init__(self, hours: _Optional[float] = ..., start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., devices: _Optional[_Iterable[_Union[DeviceUsageStats, _Mapping]]] = ..., models: _Optional[_Iterable[_Union[ModelUsageStats, _Mapping]]] = ...) -> None: ...

class CostRequest(_message.Message):
    __slots__ = ("days",)
    DAYS_FIELD_NUMBER: _ClassVar[int]
    days: float
    def __init__(self, days: _Optional[float] = ...) -> None: ...

class CostLine(_message.Message):
    __slots__ = ("key", "gpu_hours", "busy_gpu_hours", "energy_kilowatt_hours", "gpu_cost", "energy_cost", "total_cost", "kind", "name", "idle_gpu_hours", "idle_cost")
    KEY_FIELD_NUMBER: _ClassVar[int]
    GPU_HOURS_FIELD_NUMBER: _ClassVar[int]
    BUSY_GPU_HOURS_FIELD_NUMBER: _ClassVar[int]
    ENERGY_KILOWATT_HOURS_FIELD_NUMBER: _ClassVar[int]
    GPU_COST_FIELD_NUMBER: _ClassVar[int]
    ENERGY_COST_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IDLE_GPU_HOURS_FIELD_NUMBER: _ClassVar[int]
    IDLE_COST_FIELD_NUMBER: _ClassVar[int]
    key: str
    gpu_hours: float
    busy_gpu_hours: float
    energy_kilowatt_hours: float
    gpu_cost: float
    energy_cost: float
    total_cost: float
    kind: str
    name: str
    idle_gpu_hours: float
    idle_cost: float
    def __init__(self, key: _Optional[str] = ..., gpu_hours: _Optional[float] = ..., busy_gpu_hours: _Optional[float] = ..., energy_kilowatt_hours: _Optional[float] = ..., gpu_cost: _Optional[float] = ..., energy_cost: _Optional[float] = ..., total_cost: _Optional[float] = ..., kind: _Optional[str] = ..., name: _Optional[str] = ..., idle_gpu_hours: _Optional[float] = ..., idle_cost: _Optional[float] = ...) -> None: ...

class CostProjection(_message.Message):
    __slots__ = ("method", "covered_seconds", "hourly", "daily", "weekly", "monthly", "idle_percent", "potential_monthly_savings")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    COVERED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HOURLY_FIELD_NUMBER: _ClassVar[int]
    DAILY_FIELD_NUMBER: _ClassVar[int]
    WEEKLY_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_FIELD_NUMBER: _ClassVar[int]
    IDLE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    POTENTIAL_MONTHLY_SAVINGS_FIELD_NUMBER: _ClassVar[int]
    method: str
    covered_seconds: float
    hourly: float
    daily: float
    weekly: float
    monthly: float
    idle_percent: float
    potential_monthly_savings: float
    def __init__(self, method: _Optional[str] = ..., covered_seconds: _Optional[float] = ..., hourly: _Optional[float] = ..., daily: _Optional[float] = ..., weekly: _Optional[float] = ..., monthly: _Optional[float] = ..., idle_percent: _Optional[float] = ..., potential_monthly_savings: _Optional[float] = ...) -> None: ...

class ModelPrice(_message.Message):
    __slots__ = ("model", "price")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    model: str
    price: float
    def __init__(self, model: _Optional[str] = ..., price: _Optional[float] = ...) -> None: ...

class CostResponse(_message.Message):
    __slots__ = ("days", "start_ns", "end_ns", "currency", "gpu_hour_price", "gpu_hour_price_by_model", "energy_price_per_kilowatt_hour", "total", "by_namespace", "by_workload", "by_label", "projection")
    DAYS_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    GPU_HOUR_PRICE_FIELD_NUMBER: _ClassVar[int]
    GPU_HOUR_PRICE_BY_MODEL_FIELD_NUMBER: _ClassVar[int]
    ENERGY_PRICE_PER_KILOWATT_HOUR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BY_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    BY_WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    BY_LABEL_FIELD_NUMBER: _ClassVar[int]
    PROJECTION_FIELD_NUMBER: _ClassVar[int]
    days: float
    start_ns: int
    end_ns: int
    currency: str
    gpu_hour_price: float
    gpu_hour_price_by_model: _containers.RepeatedCompositeFieldContainer[ModelPrice]
    energy_price_per_kilowatt_hour: float
    total: CostLine
    by_namespace: _containers.RepeatedCompositeFieldContainer[CostLine]
    by_workload: _containers.RepeatedCompositeFieldContainer[CostLine]
    by_label: _containers.RepeatedCompositeFieldContainer[CostLine]
    projection: CostProjection
    def __init__(self, days: _Optional[float] = ..., start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., currency: _Optional[str] = ..., gpu_hour_price: _Optional[float] = ..., gpu_hour_price_by_model: _Optional[_Iterable[_Union[ModelPrice, _Mapping]]] = ..., energy_price_per_kilowatt_hour: _Optional[float] = ..., total: _Optional[_Union[CostLine, _Mapping]] = ..., by_namespace: _Optional[_Iterable[_Union[CostLine, _Mapping]]] = ..., by_workload: _Optional[_Iterable[_Union[CostLine, _Mapping]]] = ..., by_label: _Optional[_Iterable[_Union[CostLine, _Mapping]]] = ..., projection: _Optional[_Union[CostProjection, _Mapping]] = ...) -> None: ...

class ForecastRequest(_message.Message):
    __slots__ = ("hours", "history_hours", "step_ns", "node", "end_ns")
    HOURS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_HOURS_FIELD_NUMBER: _ClassVar[int]
    STEP_NS_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    hours: float
    history_hours: float
    step_ns: int
    node: str
    end_ns: int
    def __init__(self, hours: _Optional[float] = ..., history_hours: _Optional[float] = ..., step_ns: _Optional[int] = ..., node: _Optional[str] = ..., end_ns: _Optional[int] = ...) -> None: ...

class ForecastMethod(_message.Message):
    __slots__ = ("model", "library", "seasonal_periods", "params", "converged", "clipped")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    SEASONAL_PERIODS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    CONVERGED_FIELD_NUMBER: _ClassVar[int]
    CLIPPED_FIELD_NUMBER: _ClassVar[int]
    model: str
    library: str
    seasonal_periods: int
    params: _containers.ScalarMap[str, float]
    converged: bool
    clipped: bool
    def __init__(self, model: _Optional[str] = ..., library: _Optional[str] = ..., seasonal_periods: _Optional[int] = ..., params: _Optional[_Mapping[str, float]] = ..., converged: bool = ..., clipped: bool = ...) -> None: ...

class SeriesForecast(_message.Message):
    __slots__ = ("unit", "method", "history_points", "filled_points", "mean", "lower", "upper")
    UNIT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    HISTORY_POINTS_FIELD_NUMBER: _ClassVar[int]
    FILLED_POINTS_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    unit: str
    method: ForecastMethod
    history_points: int
    filled_points: int
    mean: _containers.RepeatedScalarFieldContainer[float]
    lower: _containers.RepeatedScalarFieldContainer[float]
    upper: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, unit: _Optional[str] = ..., method: _Optional[_Union[ForecastMethod, _Mapping]] = ..., history_points: _Optional[int] = ..., filled_points: _Optional[int] = ..., mean: _Optional[_Iterable[float]] = ..., lower: _Optional[_Iterable[float]] = ..., upper: _Optional[_Iterable[float]] = ...) -> None: ...

class ForecastResponse(_message.Message):
    __slots__ = ("hours", "step_ns", "node", "history_start_ns", "history_end_ns", "interval_level", "total_gpus", "ts_ns", "utilization", "allocated_gpus")
    HOURS_FIELD_NUMBER: _ClassVar[int]
    STEP_NS_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_START_NS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_END_NS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_LEVEL_FIELD_NUMBER: _ClassVar[int]
    TOTAL_GPUS_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_GPUS_FIELD_NUMBER: _ClassVar[int]
    hours: float
    step_ns: int
    node: str
    history_start_ns: int
    history_end_ns: int
    interval_level: float
    total_gpus: int
    ts_ns: _containers.RepeatedScalarFieldContainer[int]
    utilization: SeriesForecast
    allocated_gpus: SeriesForecast
    def __init__(self, hours: _Optional[float] = ..., step_ns: _Optional[int] = ..., node: _Optional[str] = ..., history_start_ns: _Optional[int] = ..., history_end_ns: _Optional[int] = ..., interval_level: _Optional[float] = ..., total_gpus: _Optional[int] = ..., ts_ns: _Optional[_Iterable[int]] = ..., utilization: _Optional[_Union[SeriesForecast, _Mapping]] = ..., allocated_gpus: _Optional[_Union[SeriesForecast, _Mapping]] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("node", "gpu", "workload", "metrics", "interval_ms")
    NODE_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    node: str
    gpu: str
    workload: str
    metrics: _containers.RepeatedScalarFieldContainer[str]
    interval_ms: int
    def __init__(self, node: _Optional[str] = ..., gpu: _Optional[str] = ..., workload: _Optional[str] = ..., metrics: _Optional[_Iterable[str]] = ..., interval_ms: _Optional[int] = ...) -> None: ...

class WindowStats(_message.Message):
    __slots__ = ("avg", "min", "max", "last", "count")
    AVG_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    avg: float
    min: float
    max: float
    last: float
    count: int
    def __init__(self, avg: _Optional[float] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., last: _Optional[float] = ..., count: _Optional[int] = ...) -> None: ...

class LiveDevice(_message.Message):
    __slots__ = ("node", "gpu", "index", "fraction", "end_ns", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: WindowStats
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[WindowStats, _Mapping]] = ...) -> None: ...
    NODE_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    node: str
    gpu: str
    index: int
    fraction: float
    end_ns: int
    metrics: _containers.MessageMap[str, WindowStats]
    def __init__(self, node: _Optional[str] = ..., gpu: _Optional[str] = ..., index: _Optional[int] = ..., fraction: _Optional[float] = ..., end_ns: _Optional[int] = ..., metrics: _Optional[_Mapping[str, WindowStats]] = ...) -> None: ...

class WatchUpdate(_message.Message):
    __slots__ = ("ts_ns", "window_ns", "devices")
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_NS_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    ts_ns: int
    window_ns: int
    devices: _containers.RepeatedCompositeFieldContainer[LiveDevice]
    def __init__(self, ts_ns: _Optional[int] = ..., window_ns: _Optional[int] = ..., devices: _Optional[_Iterable[_Union[LiveDevice, _Mapping]]] = ...) -> None: ...

class ListQueuesRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: PageRequest
    def __init__(self, page: _Optional[_Union[PageRequest, _Mapping]] = ...) -> None: ...

class QueueInfo(_message.Message):
    __slots__ = ("name", "parent", "children", "gpu_quota", "gpu_limit", "gpu_over_quota_weight", "pods", "allocated_gpus", "held_gpus", "pending_pods", "pending_gpus", "energy_joules", "gpu_seconds_allocated", "gpu_seconds_busy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    GPU_QUOTA_FIELD_NUMBER: _ClassVar[int]
    GPU_LIMIT_FIELD_NUMBER: _ClassVar[int]
    GPU_OVER_QUOTA_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    PODS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_GPUS_FIELD_NUMBER: _ClassVar[int]
    HELD_GPUS_FIELD_NUMBER: _ClassVar[int]
    PENDING_PODS_FIELD_NUMBER: _ClassVar[int]
    PENDING_GPUS_FIELD_NUMBER: _ClassVar[int]
    ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    GPU_SECONDS_ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    GPU_SECONDS_BUSY_FIELD_NUMBER: _ClassVar[int]
    name: str
    parent: str
    children: _containers.RepeatedScalarFieldContainer[str]
    gpu_quota: float
    gpu_limit: float
    gpu_over_quota_weight: float
    pods: int
    allocated_gpus: float
    held_gpus: float
    pending_pods: int
    pending_gpus: float
    energy_joules: float
    gpu_seconds_allocated: float
    gpu_seconds_busy: float
    def __init__(self, name: _Optional[str] = ..., parent: _Optional[str] = ..., children: _Optional[_Iterable[str]] = ..., gpu_quota: _Optional[float] = ..., gpu_limit: _Optional[float] = ..., gpu_over_quota_weight: _Optional[float] = ..., pods: _Optional[int] = ..., allocated_gpus: _Optional[float] = ..., held_gpus: _Optional[float] = ..., pending_pods: _Optional[int] = ..., pending_gpus: _Optional[float] = ..., energy_joules: _Optional[float] = ..., gpu_seconds_allocated: _Optional[float] = ..., gpu_seconds_busy: _Optional[float] = ...) -> None: ...

class ListQueuesResponse(_message.Message):
    __slots__ = ("queues", "page")
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    queues: _containers.RepeatedCompositeFieldContainer[QueueInfo]
    page: PageInfo
    def __init__(self, queues: _Optional[_Iterable[_Union[QueueInfo, _Mapping]]] = ..., page: _Optional[_Union[PageInfo, _Mapping]] = ...) -> None: ...

class ListKubernetesNodesRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: PageRequest
    def __init__(self, page: _Optional[_Union[PageRequest, _Mapping]] = ...) -> None: ...

class KubernetesNode(_message.Message):
    __slots__ = ("name", "ready", "addresses", "roles", "kubelet_version", "labels", "capacity", "allocatable", "gpus", "agent", "agent_missing", "conditions", "address")
    class AddressesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class CapacityEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class AllocatableEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    KUBELET_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATABLE_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    AGENT_MISSING_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    name: str
    ready: bool
    addresses: _containers.ScalarMap[str, str]
    roles: _containers.RepeatedScalarFieldContainer[str]
    kubelet_version: str
    labels: _containers.ScalarMap[str, str]
    capacity: _containers.ScalarMap[str, float]
    allocatable: _containers.ScalarMap[str, float]
    gpus: float
    agent: bool
    agent_missing: bool
    conditions: _containers.RepeatedCompositeFieldContainer[NodeCondition]
    address: str
    def __init__(self, name: _Optional[str] = ..., ready: bool = ..., addresses: _Optional[_Mapping[str, str]] = ..., roles: _Optional[_Iterable[str]] = ..., kubelet_version: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., capacity: _Optional[_Mapping[str, float]] = ..., allocatable: _Optional[_Mapping[str, float]] = ..., gpus: _Optional[float] = ..., agent: bool = ..., agent_missing: bool = ..., conditions: _Optional[_Iterable[_Union[NodeCondition, _Mapping]]] = ..., address: _Optional[str] = ...) -> None: ...

class NodeCondition(_message.Message):
    __slots__ = ("type", "status", "reason", "message", "last_transition_ns")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_TRANSITION_NS_FIELD_NUMBER: _ClassVar[int]
    type: str
    status: str
    reason: str
    message: str
    last_transition_ns: int
    def __init__(self, type: _Optional[str] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., last_transition_ns: _Optional[int] = ...) -> None: ...

class ListKubernetesNodesResponse(_message.Message):
    __slots__ = ("nodes", "page")
    NODES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[KubernetesNode]
    page: PageInfo
    def __init__(self, nodes: _Optional[_Iterable[_Union[KubernetesNode, _Mapping]]] = ..., page: _Optional[_Union[PageInfo, _Mapping]] = ...) -> None: ...

class GetKubernetesStateRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class KubernetesKind(_message.Message):
    __slots__ = ("kind", "objects", "synced_ns", "stale", "stale_since_ns", "error")
    KIND_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    SYNCED_NS_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    STALE_SINCE_NS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    kind: str
    objects: int
    synced_ns: int
    stale: bool
    stale_since_ns: int
    error: str
    def __init__(self, kind: _Optional[str] = ..., objects: _Optional[int] = ..., synced_ns: _Optional[int] = ..., stale: bool = ..., stale_since_ns: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class KubernetesState(_message.Message):
    __slots__ = ("enabled", "stale", "kinds")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    stale: bool
    kinds: _containers.RepeatedCompositeFieldContainer[KubernetesKind]
    def __init__(self, enabled: bool = ..., stale: bool = ..., kinds: _Optional[_Iterable[_Union[KubernetesKind, _Mapping]]] = ...) -> None: ...
