"""Experiment configs: YAML files validated into frozen dataclasses.

A config is named by its file stem (`dsn` -> `configs/dsn.yaml`) or given as a path. It may name a
base with `extends: NAME_OR_PATH`; the child's mappings merge into the base's, lists and scalars
replace. Overrides (`--set train.steps=100`, `--set a.0.b=2`) are parsed as YAML and applied last.

Validation is strict, like the Model Garden's: an unknown key is an error with a "did you mean",
a wrong type names the key path, the expected type, the value and where it came from. Every
problem is reported at once, one per line. This module never imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from modelzoo import paths
from modelzoo.errors import ConfigError, UnknownNameError, suggest, unknown_name

OVERRIDE = "--set"


# --------------------------------------------------------------------------- schema
# `min` / `max` in a field's metadata bound the accepted values (checked for ints and floats);
# `min_items` and `unique` constrain a list.


def _positive(default=dataclasses.MISSING, minimum=1):
    return field(default=default, metadata={"min": minimum})


def _decay(default: float):
    """A decay rate in [0, 1): at 1 Adam's bias correction divides by zero and an average freezes."""
    return field(default=default, metadata={"min": 0.0, "max": 0.99999})


@dataclass(frozen=True)
class OptimizerConfig:
    """A Keras optimizer and its learning-rate schedule."""

    name: Literal["sgd", "adam"] = "sgd"
    learning_rate: float = field(default=0.01, metadata={"min": 0.0})
    momentum: float = field(default=0.0, metadata={"min": 0.0})
    beta_1: float = _decay(0.9)  # Adam's moment decays (Keras's defaults)
    beta_2: float = _decay(0.999)
    # none: constant; exponential: lr·rate^(step/steps) (staircase floors it);
    # inverse_time: lr/(1 + rate·step/steps), the legacy Keras SGD `decay` argument.
    schedule: Literal["none", "exponential", "inverse_time"] = "none"
    decay_steps: int = _positive(1)
    decay_rate: float = field(default=0.0, metadata={"min": 0.0})
    staircase: bool = False


@dataclass(frozen=True)
class ModelConfig:
    """Which registered network to build (`modelzoo list models`)."""

    name: str
    num_classes: int = _positive(10)
    dropout: float = field(default=0.5, metadata={"min": 0.0})
    # BatchNormalization momentum (Keras default 0.99). Short runs on small data want ~0.9, or
    # the moving statistics lag the weights and test accuracy trails training accuracy.
    bn_momentum: float = field(default=0.99, metadata={"min": 0.0})


@dataclass(frozen=True)
class DataConfig:
    """Which prepared dataset(s) feed the model, and how images are converted for it."""

    dataset: str
    target_dataset: str | None = None  # the second domain of a domain-adaptation recipe
    image_size: list[int] = field(default_factory=lambda: [28, 28])
    channels: Literal[1, 3] = 1
    value_range: list[float] = field(default_factory=lambda: [0.0, 1.0])
    train_split: str = "train"
    validation_split: str | None = None  # monitored during training; picks the best checkpoint
    test_split: str = "test"
    cache: bool = True
    augment: bool = False


@dataclass(frozen=True)
class TrainConfig:
    """The training budget and the engine's cadence."""

    steps: int = _positive()  # total optimizer steps
    batch_size: int = _positive()  # global batch, split over replicas
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    seed: int | None = None  # drawn and recorded in the run dir when not given
    log_every: int = _positive(100)
    checkpoint_every: int = _positive(500)
    keep_checkpoints: int = _positive(3)
    eval_every: int = field(default=0, metadata={"min": 0})  # 0: evaluate only at the end
    jit_compile: bool = False


@dataclass(frozen=True)
class EvalConfig:
    """What `modelzoo eval` reports and what picks the best checkpoint."""

    split: str = "test"
    batch_size: int = _positive(256)
    monitor: str = "accuracy"
    monitor_mode: Literal["max", "min"] = "max"


@dataclass(frozen=True)
class DSNConfig:
    """Domain Separation Networks (Bousmalis et al. 2016) loss set-up; see configs/dsn.yaml."""

    similarity: Literal["dann", "mmd", "none"] = "dann"
    use_separation: bool = True  # private encoders + shared decoder + difference/recon losses
    train_on: Literal["source", "target"] = "source"  # target: the target-only upper bound
    alpha: float = field(default=0.1, metadata={"min": 0.0})  # reconstruction weight
    beta: float = field(default=0.075, metadata={"min": 0.0})  # difference weight
    gamma: float = field(default=0.25, metadata={"min": 0.0})  # similarity weight
    weight_decay: float = field(default=1e-6, metadata={"min": 0.0})
    warmup_steps: int = field(default=10000, metadata={"min": 0})  # domain losses start here
    recon_loss: Literal["scale_invariant_mse", "mse"] = "scale_invariant_mse"
    center_inputs: bool = False  # the tower subtracts each image's per-channel mean first
    # Where DANN similarity attaches a domain classifier (each behind gradient reversal, each
    # weighted gamma): fc3, the shared code (the DSN code's place); pool2, the conv features
    # (Ganin et al.'s place for MNIST).
    domain_classifier_on: list[Literal["fc3", "pool2"]] = field(
        default_factory=lambda: ["fc3"], metadata={"min_items": 1, "unique": True})
    # > 0: clip the summed gradient to this global L2 norm before each update.
    clip_global_norm: float = field(default=0.0, metadata={"min": 0.0})


@dataclass(frozen=True)
class GANConfig:
    """DCGAN sampling and metric set-up; see configs/dcgan.yaml."""

    noise_dim: int = _positive(100)
    grid_size: int = _positive(4)  # the fixed-seed grid (grid_size² images), every evaluation
    classifier: str = "minivggnet"  # config name or run dir of the classifier behind the metrics
    metric_samples: int = _positive(1000)
    # > 0: evaluate, sample and export an exponential moving average of the generator's weights
    # (Yazici et al. 2019); the average starts as a plain mean (TF's num_updates warm-up).
    ema_decay: float = _decay(0.0)
    # The generator's own learning rate (null: train.optimizer's, which the discriminator uses);
    # the optimizer's name, betas and schedule are shared.
    generator_learning_rate: float | None = field(default=None, metadata={"min": 0.0})
    # > 0: the weight gamma of the R1 gradient penalty on the discriminator (recipes/dcgan.py).
    r1_gamma: float = field(default=0.0, metadata={"min": 0.0})
    # The dropout rate after each of the discriminator's LeakyReLUs (the tutorial's 0.3).
    discriminator_dropout: float = field(default=0.3, metadata={"min": 0.0, "max": 0.99})


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: a recipe (the algorithm) applied to a model and data, with a budget."""

    recipe: Literal["classifier", "dsn", "dcgan"]
    model: ModelConfig
    data: DataConfig
    train: TrainConfig
    eval: EvalConfig = field(default_factory=EvalConfig)
    description: str = ""
    dsn: DSNConfig | None = None
    gan: GANConfig | None = None
    name: str = ""  # the config's name; set by the loader, not written in YAML

    def to_dict(self) -> dict:
        """Plain data for YAML/JSON (the run dir's `config.yaml`); unused sections dropped."""
        data = dataclasses.asdict(self)
        return {k: v for k, v in data.items() if v is not None}


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config plus what `config show` needs: the merged data and its origins."""

    config: ExperimentConfig
    data: dict
    origins: dict[str, str]  # dotted key path -> file it came from, or "--set"
    path: Path


def list_configs() -> dict[str, Path]:
    """Config name -> file, for every YAML file under configs/."""
    return {p.stem: p for p in sorted(paths.configs_dir().glob("*.yaml"))}


def resolve(name_or_path: str) -> Path:
    """A config name (`dsn`) or a path (`my/exp.yaml`) to an existing file."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in (".yaml", ".yml") or "/" in name_or_path:
        if not candidate.is_file():
            raise ConfigError(f"Config file {name_or_path} does not exist.",
                              fix="modelzoo list configs")
        return candidate.resolve()
    known = list_configs()
    if name_or_path not in known:
        raise unknown_name("config", name_or_path, known, "modelzoo list configs")
    return known[name_or_path]


def load(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> LoadedConfig:
    """Read, merge (`extends`), override (`--set`) and validate one experiment config."""
    path = resolve(name_or_path)
    data, origins = _read_with_bases(path, chain=())
    for text in overrides:
        _apply_override(data, origins, text)
    data.setdefault("name", path.stem)
    origins.setdefault("name", str(path))
    config = _build(ExperimentConfig, data, "", origins)
    return LoadedConfig(config=config, data=data, origins=origins, path=path)


def from_dict(data: dict, source: str = "<dict>") -> ExperimentConfig:
    """Validate already-merged data, e.g. the `config.yaml` a run dir holds."""
    origins = {key: source for key in _leaf_paths(data)}
    return _build(ExperimentConfig, data, "", origins)


def _read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        # safe_load refuses `!!python/...` tags: configs are data, never code.
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{line} is not valid YAML: {problem}.",
                          fix=f"edit {path}; configs are plain YAML (no !!python tags)") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}).",
                          fix=f"save {path} as UTF-8") from None
    except RecursionError:
        raise ConfigError(f"{path} nests lists or mappings too deeply to be a config.",
                          fix=f"edit {path}") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read config {path}: {exc.strerror}.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (model, data, train, ...), "
                          f"not a {type(data).__name__}.", fix=f"edit {path}")
    return data


def _read_with_bases(path: Path, chain: tuple[Path, ...]) -> tuple[dict, dict[str, str]]:
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ConfigError(f"Config `extends` forms a cycle: {cycle}.", fix=f"edit {path}")
    data = _read_yaml(path)
    base_name = data.pop("extends", None)
    if base_name is None:
        return data, {key: str(path) for key in _leaf_paths(data)}
    if not isinstance(base_name, str):
        raise ConfigError(f"{path}: `extends` must be a config name or path, got {base_name!r}.")
    base_path = path.parent / base_name if base_name.endswith((".yaml", ".yml")) else None
    try:
        base_path = base_path if base_path and base_path.is_file() else resolve(base_name)
    except (ConfigError, UnknownNameError) as err:  # say which file asked for the base
        raise type(err)(f"{path}: extends {base_name!r}, which cannot be loaded. {err.message}",
                        fix=err.fix) from None
    merged, origins = _read_with_bases(base_path, (*chain, path))
    _merge(merged, data)
    origins.update({key: str(path) for key in _leaf_paths(data)})
    return merged, origins


def _merge(base: dict, child: dict) -> None:
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _leaf_paths(data: Any, prefix: str = "") -> list[str]:
    if isinstance(data, dict) and data:
        return [p for k, v in data.items() for p in _leaf_paths(v, f"{prefix}{k}.")]
    return [prefix.rstrip(".")]


def _apply_override(data: dict, origins: dict[str, str], text: str) -> None:
    """`a.b=1` or `a.0.b=2`: the value is parsed as YAML (`[1, 2]`, `true`, `null`)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r} is not KEY=VALUE.", fix="--set train.steps=100")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw  # an unparseable value is a plain string; type checking decides
    except RecursionError:
        raise ConfigError(f"--set {key.strip()}: the value nests lists or mappings too deeply.",
                          fix="--set train.steps=100") from None
    parts = key.strip().split(".")
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        node = _child(node, part, parts[: depth + 1], create=True)
    last = parts[-1]
    if not isinstance(node, (dict, list)):
        raise ConfigError(f"--set {key.strip()}: {'.'.join(parts[:-1])} is a value, not a "
                          "section.", fix=f"--set {'.'.join(parts[:-1])}=VALUE")
    if isinstance(node, list):
        index = _index(node, last, parts)
        node[index] = value
    else:
        node[last] = value
    origins[".".join(parts)] = OVERRIDE
    for leaf in _leaf_paths(value, ".".join(parts) + "."):
        origins[leaf] = OVERRIDE


def _child(node: Any, part: str, so_far: list[str], create: bool) -> Any:
    where = ".".join(so_far)
    if isinstance(node, list):
        return node[_index(node, part, so_far)]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {where}: {'.'.join(so_far[:-1])} is a value, not a section.")
    if part not in node or node[part] is None:
        node[part] = {}
    return node[part]


def _index(node: list, part: str, so_far: list[str]) -> int:
    where = ".".join(so_far)
    if not part.lstrip("-").isdigit():
        raise ConfigError(f"--set {where}: {part!r} must be a list index (0..{len(node) - 1}).")
    index = int(part)
    if not -len(node) <= index < len(node):
        raise ConfigError(f"--set {where}: index {index} is out of range; the list has "
                          f"{len(node)} elements.")
    return index


# --------------------------------------------------------------------------- validation


class _Problems(list):
    def add(self, path: str, message: str, origins: dict[str, str]) -> None:
        source, parent = origins.get(path), path
        while source is None and "." in parent:  # a missing key: name the section's file
            parent = parent.rsplit(".", 1)[0]
            source = origins.get(parent) or next(
                (o for k, o in origins.items() if k.startswith(parent + ".")), None)
        self.append(f"{path_of(path)}: {message}" + (f" (from {source})" if source else ""))


def path_of(path: str) -> str:
    return path or "<top level>"


def _build(cls: type, data: Any, path: str, origins: dict[str, str]) -> Any:
    problems = _Problems()
    result = _convert(cls, data, path, origins, problems)
    if problems:
        config_file = next((o for o in origins.values() if o != OVERRIDE), "the config")
        raise ConfigError("Invalid config:\n  " + "\n  ".join(problems),
                          fix=f"edit {config_file} or the --set flag named above "
                              f"(`modelzoo config show NAME` prints every key)")
    return result


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {int: "an int", float: "a number", str: "a string", bool: "true or false",
            type(None): "null"}.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(tp: Any, value: Any, path: str, origins: dict, problems: _Problems,
             meta: dict | None = None) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _convert_dataclass(tp, value, path, origins, problems)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, path, origins, problems, meta)
    if origin is Literal:
        if value in typing.get_args(tp) and type(value) is not bool:
            return value
        hint = suggest(str(value), [str(a) for a in typing.get_args(tp)])
        problems.add(path, f"expected {_type_name(tp)}, got {value!r}.{hint}", origins)
        return None
    if origin is list:
        if not isinstance(value, list):
            problems.add(path, f"expected {_type_name(tp)}, got {value!r}", origins)
            return None
        (item,) = typing.get_args(tp)
        meta = meta or {}
        if len(value) < meta.get("min_items", 0):
            problems.add(path, f"expected {_type_name(tp)} with at least {meta['min_items']} "
                               f"item(s), got {value!r}", origins)
        if meta.get("unique") and len({repr(v) for v in value}) != len(value):
            problems.add(path, f"expected {_type_name(tp)} without repeats, got {value!r}",
                         origins)
        return [_convert(item, v, f"{path}.{i}", origins, problems) for i, v in enumerate(value)]
    return _convert_scalar(tp, value, path, origins, problems, meta or {})


def _convert_scalar(tp, value, path, origins, problems, meta) -> Any:
    ok = (isinstance(value, tp) and not (tp is not bool and isinstance(value, bool))) or (
        tp is float and isinstance(value, int) and not isinstance(value, bool))
    if tp is float and isinstance(value, str):
        try:  # YAML 1.1 reads `1e-6` as a string; accept what is plainly a number
            value, ok = float(value), True
        except ValueError:
            pass
    if not ok:
        problems.add(path, f"expected {_type_name(tp)}, got {value!r}", origins)
        return None
    value = float(value) if tp is float else value
    minimum = meta.get("min")
    if minimum is not None and value < minimum:
        bound = "> 0" if minimum == 1 and tp is int else f">= {minimum}"
        problems.add(path, f"expected {_type_name(tp)} {bound}, got {value!r}", origins)
    maximum = meta.get("max")
    if maximum is not None and value > maximum:
        problems.add(path, f"expected {_type_name(tp)} <= {maximum}, got {value!r}", origins)
    return value


def _convert_dataclass(cls, value, path, origins, problems) -> Any:
    if not isinstance(value, dict):
        problems.add(path, f"expected a mapping (a section of keys), got {value!r}", origins)
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in value:
        if key not in fields:
            hint = suggest(str(key), fields)
            known = ", ".join(fields)
            problems.add(_join(path, key), f"unknown key.{hint} Known keys here: {known}.",
                         origins)
    kwargs = {}
    for name, f in fields.items():
        sub = _join(path, name)
        if name in value:
            kwargs[name] = _convert(hints[name], value[name], sub, origins, problems,
                                    dict(f.metadata))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            problems.add(sub, f"required key is missing (expected {_type_name(hints[name])})",
                         origins)
    if len(problems):
        return None
    return cls(**kwargs)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# --------------------------------------------------------------------------- printing


def to_yaml(data: dict, origins: dict[str, str] | None = None) -> str:
    """YAML of `data`, each value set by `--set` marked with a `# --set` comment."""
    origins = origins or {}
    lines: list[str] = []
    _emit(data, "", 0, origins, lines)
    return "\n".join(lines) + "\n"


def _emit(data: dict, prefix: str, indent: int, origins: dict, lines: list[str]) -> None:
    pad = "  " * indent
    for key, value in data.items():
        path = f"{prefix}{key}"
        mark = "  # --set" if origins.get(path) == OVERRIDE else ""
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{key}:{mark}")
            _emit(value, path + ".", indent + 1, origins, lines)
        else:
            scalar = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
            scalar = scalar.removesuffix("\n...").removesuffix("...").strip()
            lines.append(f"{pad}{key}: {scalar}{mark}")
