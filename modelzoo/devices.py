"""Which devices TensorFlow may use, and which `tf.distribute` strategy runs on them.

`--device` is applied before TensorFlow creates its runtime (after that it cannot change):

    auto      every GPU if there is one, else the CPU
    cpu       the CPU only (GPUs hidden)
    cpu:N     the CPU split into N logical devices: MirroredStrategy over N "CPU replicas", which is
              how tests and laptops exercise multi-device code without GPUs
    gpu       every GPU; an error when there is none (no silent CPU fallback)
    gpu:N     GPU N only;  gpu:0,1  GPUs 0 and 1

`--strategy`: `one` (the default strategy, one device), `mirrored` (all visible devices of one
machine), `multi-worker` (MultiWorkerMirroredStrategy from TF_CONFIG), or `auto`: multi-worker when
TF_CONFIG is set, mirrored when several devices are visible, else one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelzoo.errors import DeviceError, UsageError

if TYPE_CHECKING:
    pass

STRATEGIES = ("auto", "one", "mirrored", "multi-worker")


@dataclass(frozen=True)
class DeviceRequest:
    kind: str  # "auto", "cpu" or "gpu"
    gpu_indices: tuple[int, ...] | None = None  # None: all GPUs
    cpu_replicas: int = 1


@dataclass
class Placement:
    """The chosen strategy and what to tell the user about it."""

    strategy: Any  # tf.distribute.Strategy
    description: str
    is_chief: bool = True
    worker: str = "chief"  # "worker 1 of 2" under multi-worker
    devices: list[str] = field(default_factory=list)

    @property
    def multi_worker(self) -> bool:
        return self.worker != "chief"

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync


def parse_device(spec: str) -> DeviceRequest:
    """`auto`, `cpu`, `cpu:2`, `gpu`, `gpu:1`, `gpu:0,1` -> DeviceRequest (no TF import)."""
    text = spec.strip().lower()
    kind, _, rest = text.partition(":")
    fix = "use --device auto, cpu, cpu:N, gpu, gpu:N or gpu:0,1"
    if kind == "auto" and not rest:
        return DeviceRequest("auto")
    if kind == "cpu":
        if not rest:
            return DeviceRequest("cpu")
        if rest.isdigit() and int(rest) >= 1:
            return DeviceRequest("cpu", cpu_replicas=int(rest))
    if kind == "gpu":
        if not rest:
            return DeviceRequest("gpu")
        parts = rest.split(",")
        if all(p.strip().isdigit() for p in parts):
            return DeviceRequest("gpu", gpu_indices=tuple(int(p) for p in parts))
    raise UsageError(f"--device {spec!r} is not a device.", fix=fix)


def apply_devices(request: DeviceRequest) -> None:
    """Make only the requested devices visible to TensorFlow. Call before any TF op runs."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if request.kind == "gpu":
        if not gpus:
            raise DeviceError("--device gpu was asked for, but TensorFlow sees no GPU on this "
                              "machine (no CUDA driver, or a CPU-only TensorFlow).",
                              fix="run with --device cpu, or install GPU support: "
                                  "pip install 'modelzoo[gpu]'")
        wanted = gpus if request.gpu_indices is None else [
            _gpu(gpus, index) for index in request.gpu_indices]
        _set_visible(tf, wanted, "GPU")
    elif request.kind == "cpu" and gpus:
        _set_visible(tf, [], "GPU")
    if request.cpu_replicas > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        wanted = [tf.config.LogicalDeviceConfiguration()] * request.cpu_replicas
        current = tf.config.get_logical_device_configuration(cpu)
        if current is None or len(current) != request.cpu_replicas:
            try:
                tf.config.set_logical_device_configuration(cpu, wanted)
            except RuntimeError:
                raise _too_late() from None


def _gpu(gpus: list, index: int):
    if index >= len(gpus):
        raise DeviceError(f"--device gpu:{index} does not exist: this machine has {len(gpus)} "
                          f"GPU(s), numbered 0..{len(gpus) - 1}.", fix="modelzoo env")
    return gpus[index]


def _set_visible(tf, devices: list, kind: str) -> None:
    if tf.config.get_visible_devices(kind) == devices:
        return
    try:
        tf.config.set_visible_devices(devices, kind)
    except RuntimeError:
        raise _too_late() from None


def _too_late() -> DeviceError:
    return DeviceError("TensorFlow was already initialised in this process, so its devices can no "
                       "longer change.", fix="start a new process (a new `modelzoo train`)")


# --------------------------------------------------------------------------- TF_CONFIG


def read_tf_config(environ=os.environ) -> dict | None:
    """TF_CONFIG, validated: JSON with `cluster` (job -> list of host:port) and `task` (type,
    index in range). None when unset. Every problem is a DeviceError naming TF_CONFIG."""
    raw = environ.get("TF_CONFIG", "").strip()
    if not raw:
        return None
    fix = ('set TF_CONFIG like {"cluster": {"worker": ["host1:port", "host2:port"]}, '
           '"task": {"type": "worker", "index": 0}}, or unset it to train on one machine')
    try:
        tf_config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DeviceError(f"TF_CONFIG is not valid JSON ({exc.msg} at character {exc.pos}).",
                          fix=fix) from None
    if not isinstance(tf_config, dict):
        raise DeviceError("TF_CONFIG must be a JSON object with `cluster` and `task`.", fix=fix)
    cluster, task = tf_config.get("cluster"), tf_config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise DeviceError("TF_CONFIG has no `cluster` mapping of job name -> list of host:port.",
                          fix=fix)
    for job, hosts in cluster.items():
        if not isinstance(hosts, list) or not hosts or not all(
                isinstance(h, str) and ":" in h for h in hosts):
            raise DeviceError(f"TF_CONFIG cluster.{job} must be a non-empty list of 'host:port' "
                              f"strings, got {hosts!r}.", fix=fix)
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise DeviceError("TF_CONFIG has no `task` with `type` and `index` (which worker this "
                          "process is).", fix=fix)
    kind, index = task["type"], task["index"]
    if kind not in cluster:
        raise DeviceError(f"TF_CONFIG task.type {kind!r} is not a job in cluster "
                          f"({', '.join(cluster)}).", fix=fix)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[kind]):
        raise DeviceError(f"TF_CONFIG task.index {index!r} is out of range: cluster.{kind} has "
                          f"{len(cluster[kind])} host(s), so the index must be 0.."
                          f"{len(cluster[kind]) - 1}.", fix=fix)
    return tf_config


def is_chief_task(tf_config: dict) -> bool:
    """The chief writes the run dir: task `chief`, or worker 0 when the cluster has no chief."""
    kind, index = tf_config["task"]["type"], tf_config["task"]["index"]
    return kind == "chief" or (kind == "worker" and index == 0
                               and "chief" not in tf_config["cluster"])


def role(tf_config: dict) -> str:
    kind, index = tf_config["task"]["type"], tf_config["task"]["index"]
    total = sum(len(hosts) for hosts in tf_config["cluster"].values())
    chief = " (chief: writes the run dir)" if is_chief_task(tf_config) else ""
    return f"{kind} {index} of {total} tasks{chief}"


# --------------------------------------------------------------------------- strategy


def place(device: str = "auto", strategy: str = "auto") -> Placement:
    """Apply `--device`, then build the `--strategy`. Call once per process, before other TF use."""
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy {strategy!r} is not one of {', '.join(STRATEGIES)}.",
                         fix="--strategy auto")
    request = parse_device(device)
    tf_config = read_tf_config()  # validated first: a broken TF_CONFIG is a clear error
    if strategy == "multi-worker" and tf_config is None:
        raise DeviceError("--strategy multi-worker needs TF_CONFIG (the cluster and this "
                          "worker's task), and it is not set.",
                          fix='export TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", '
                              '"host2:12345"]}, "task": {"type": "worker", "index": 0}}\'')
    apply_devices(request)
    import tensorflow as tf

    if tf_config is not None and strategy in ("auto", "multi-worker"):
        return _multi_worker(tf, tf_config)
    devices = _visible_devices(tf, request)
    if strategy == "mirrored" or (strategy == "auto" and len(devices) > 1):
        mirrored = tf.distribute.MirroredStrategy(devices)
        return Placement(mirrored, f"MirroredStrategy over {len(devices)} devices "
                         f"({', '.join(devices)})", devices=devices)
    return Placement(tf.distribute.get_strategy(), f"one device ({devices[0]})",
                     devices=devices[:1])


def _visible_devices(tf, request: DeviceRequest) -> list[str]:
    gpus = tf.config.list_logical_devices("GPU")
    if gpus and request.kind != "cpu":
        return [d.name for d in gpus]
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def _multi_worker(tf, tf_config: dict) -> Placement:
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    who = role(tf_config)
    return Placement(strategy, f"MultiWorkerMirroredStrategy, {strategy.num_replicas_in_sync} "
                     f"replicas; this process is {who}", is_chief=is_chief_task(tf_config),
                     worker=who)
