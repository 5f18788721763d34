"""Bad input: corrupt IDX files, wrong-size images, hostile or careless YAML, broken TF_CONFIG,
and property-based fuzzing (hypothesis) of the config loader and the IDX reader.

Survived: a `ModelzooError` (exit 2 for usage/config, 1 for data) whose message names the file,
key or flag at fault, no traceback, and no dataset marked ready. Lost: a traceback (a crash the
user cannot act on) or a dataset wrongly marked ready.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

from bench.reliability.common import fresh, prepared_data_dir, row, tiny_mnist_folder
from tests.datasets.datasets_testlib import idx_bytes

CATEGORY = "bad input"
IMAGES, LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"


def _outcome(call: Callable[[], object], *needles: str) -> tuple[bool, bool, str]:
    """(survived, crashed, note): survived when `call` raises a ModelzooError naming a needle."""
    from modelzoo.errors import ModelzooError

    with contextlib.redirect_stderr(io.StringIO()):
        try:
            call()
        except ModelzooError as err:
            text = str(err)
            return any(n in text for n in needles), False, text.splitlines()[0][:120]
        except Exception as exc:  # noqa: BLE001 - a traceback is what we count
            return False, True, f"TRACEBACK {type(exc).__name__}: {exc}"[:160]
    return False, False, "accepted"


def _summarise(check: str, results: list[tuple[str, tuple[bool, bool, str]]], goal: str,
               lost_extra: int = 0) -> dict:
    survived = sum(ok for _, (ok, _, _) in results)
    lost = sum(crashed for _, (_, crashed, _) in results) + lost_extra
    failures = [f"{name}: {note}" for name, (ok, _, note) in results if not ok]
    notes = "; ".join(failures) if failures else "e.g. " + results[0][1][2]
    return row(CATEGORY, check, len(results), survived, lost, goal,
               survived == len(results) and lost == 0, notes)


# --------------------------------------------------------------------------- IDX files


def _idx_cases() -> dict[str, tuple[str, Callable[[bytes], bytes]]]:
    """name -> (file to damage, damage applied to its uncompressed bytes)."""
    def images(n=256, size=28):
        return idx_bytes(np.zeros((n, size, size), dtype=np.uint8))

    return {
        "wrong magic": (IMAGES, lambda b: b"\x12\x34" + b[2:]),
        "float data type": (IMAGES, lambda b: b"\x00\x00\x0d" + b[3:]),
        "wrong number of dims": (IMAGES, lambda b: b[:3] + b"\x02" + b[4:]),
        "short data": (IMAGES, lambda b: b[:-100]),
        "trailing data": (IMAGES, lambda b: b + b"\x00" * 7),
        "truncated header": (IMAGES, lambda b: b[:10]),
        "empty file": (IMAGES, lambda b: b""),
        "images 20x20, not 28x28": (IMAGES, lambda b: images(size=20)),
        "label 12 of 10 classes": (LABELS, lambda b: b[:-1] + b"\x0c"),
        "labels and images disagree in count": (LABELS, lambda b: idx_bytes(
            np.zeros(100, dtype=np.uint8))),
    }


def _idx_rows(work: Path) -> list[dict]:
    from modelzoo import datasets

    results, ready = [], 0
    for index, (name, (target, damage)) in enumerate(_idx_cases().items()):
        source = tiny_mnist_folder(fresh(work / f"idx-{index}"))
        path = source / target
        path.write_bytes(gzip.compress(damage(gzip.decompress(path.read_bytes())), mtime=0))
        data_dir = work / f"idx-data-{index}"
        results.append((name, _outcome(lambda s=source, d=data_dir: datasets.download(
            "mnist", d, source=str(s)), str(path))))
        ready += datasets.is_ready("mnist", data_dir)
    cut = tiny_mnist_folder(fresh(work / "idx-gzip"))
    raw = (cut / IMAGES).read_bytes()
    (cut / IMAGES).write_bytes(raw[: len(raw) // 2])
    results.append(("gzip stream cut in half", _outcome(lambda: datasets.download(
        "mnist", work / "idx-gzip-data", source=str(cut)), str(cut / IMAGES))))
    ready += datasets.is_ready("mnist", work / "idx-gzip-data")
    return [_summarise("corrupt IDX files via download --from", results,
                       "all refused naming the file, none ready", ready)]


# --------------------------------------------------------------------------- images


def _png(size: tuple[int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (120, 30, 200)).save(out, format="PNG")
    return out.getvalue()


def _image_rows(work: Path, data_dir: Path) -> list[dict]:
    from modelzoo import datasets

    cases = {}
    photos = fresh(work / "photos-small")
    (photos / "a.png").write_bytes(_png((64, 48)))
    (photos / "tiny.png").write_bytes(_png((16, 16)))
    cases["a 16x16 photo among the photos"] = (photos, photos / "tiny.png")
    garbage = fresh(work / "photos-garbage")
    (garbage / "a.png").write_bytes(_png((64, 48)))
    (garbage / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    cases["a .jpg that is not an image"] = (garbage, garbage / "broken.jpg")
    official = fresh(work / "official")
    (official / "mnist_m_train").mkdir()
    (official / "mnist_m_test").mkdir()
    (official / "mnist_m_train" / "0.png").write_bytes(_png((20, 20)))
    (official / "mnist_m_test" / "0.png").write_bytes(_png((28, 28)))
    (official / "mnist_m_train_labels.txt").write_text("0.png 3\n")
    (official / "mnist_m_test_labels.txt").write_text("0.png 4\n")
    cases["a 20x20 image in the official MNIST-M folder"] = (
        official, official / "mnist_m_train" / "0.png")
    results = [(name, _outcome(lambda s=source: datasets.download(
        "mnist_m", data_dir, source=str(s)), str(bad), bad.name))
        for name, (source, bad) in cases.items()]
    return [_summarise("wrong-size or broken images in a --from folder", results,
                       "all refused naming the file, none ready",
                       int(datasets.is_ready("mnist_m", data_dir)))]


# --------------------------------------------------------------------------- YAML and flags


def _cli(args: list[str], env: dict | None = None) -> tuple[int, str]:
    from typer.testing import CliRunner

    from modelzoo.cli import app

    result = CliRunner().invoke(app, args, env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        return -1, f"TRACEBACK {type(result.exception).__name__}: {result.exception}"
    return result.exit_code, result.output


def _cli_outcome(args, needles, env=None) -> tuple[bool, bool, str]:
    code, output = _cli(args, env)
    flat = " ".join(output.split())
    ok = code == 2 and all(n in flat for n in needles) and "Traceback" not in output
    note = flat[:140] if ok else f"exit {code}: {flat[:140]}"
    return ok, code == -1 or "Traceback" in output, note


def _config_rows(work: Path) -> list[dict]:
    folder = fresh(work / "configs")
    marker = folder / "PWNED"
    base = "extends: shallownet\n"
    files = {
        "unknown key": (base + "train:\n  stepz: 5\n", ["train.stepz", "steps"]),
        "wrong type": (base + "train:\n  steps: many\n", ["train.steps", "an int"]),
        "negative count": (base + "train:\n  batch_size: -4\n", ["train.batch_size"]),
        "!!python/object/apply tag": (
            base + f"description: !!python/object/apply:os.system ['touch {marker}']\n", []),
        "!!python/name tag": (base + "description: !!python/name:os.system\n", []),
        "not a mapping": ("- a\n- list\n", ["mapping"]),
        "invalid YAML": (base + "train: [unclosed\n", ["not valid YAML"]),
        "extends a missing config": ("extends: nonexistent_base\n", ["nonexistent_base"]),
        "required keys missing": ("description: nothing else\n", ["recipe", "required"]),
    }
    results = []
    for index, (name, (text, needles)) in enumerate(files.items()):
        path = folder / f"case{index}.yaml"
        path.write_text(text, encoding="utf-8")
        results.append((name, _cli_outcome(["config", "show", str(path)], [str(path), *needles])))
    raw = {"non-UTF-8 bytes": b"train:\n  steps: \xff\xfe\n",
           "10,000-deep nesting": b"a: " + b"[" * 10_000 + b"]" * 10_000 + b"\n"}
    for index, (name, data) in enumerate(raw.items()):
        path = folder / f"raw{index}.yaml"
        path.write_bytes(data)
        results.append((name, _cli_outcome(["config", "show", str(path)], [str(path)])))
    cycle_a, cycle_b = folder / "cycle_a.yaml", folder / "cycle_b.yaml"
    cycle_a.write_text("extends: cycle_b.yaml\n")
    cycle_b.write_text("extends: cycle_a.yaml\n")
    results.append(("extends cycle", _cli_outcome(["config", "show", str(cycle_a)],
                                                  ["cycle", str(cycle_a)])))
    flags = {"--set unknown key": ("train.stepz=5", ["train.stepz", "--set"]),
             "--set wrong type": ("train.steps=[1, 2]", ["train.steps", "--set"]),
             "--set without =": ("train.steps", ["--set", "KEY=VALUE"]),
             "--set index out of range": ("data.image_size.7=3", ["--set", "out of range"]),
             "--set below a value": ("train.steps.deeper=3", ["--set", "train.steps"])}
    for name, (flag, needles) in flags.items():
        results.append((name, _cli_outcome(["config", "show", "shallownet", "--set", flag],
                                           needles)))
    rows = [_summarise("YAML configs and --set flags", results, "exit 2 naming file/key/flag, "
                       "no traceback")]
    if marker.exists():
        rows[-1].update(met=False, lost=rows[-1]["lost"] + 1,
                        notes="a !!python tag RAN CODE: " + rows[-1]["notes"])
    return rows


def _tf_config_rows(work: Path) -> list[dict]:
    good = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
            "task": {"type": "worker", "index": 0}}
    cases = {"not JSON": "{cluster: nope", "a list": "[1, 2]",
             "no cluster": json.dumps({"task": good["task"]}),
             "empty cluster": json.dumps({**good, "cluster": {}}),
             "hosts not a list": json.dumps({**good, "cluster": {"worker": "127.0.0.1:1"}}),
             "host without port": json.dumps({**good, "cluster": {"worker": ["localhost"]}}),
             "no task": json.dumps({"cluster": good["cluster"]}),
             "task type not in cluster": json.dumps({**good, "task": {"type": "ps", "index": 0}}),
             "index out of range": json.dumps({**good, "task": {"type": "worker", "index": 9}}),
             "index a string": json.dumps({**good, "task": {"type": "worker", "index": "0"}})}
    results = [(name, _cli_outcome(["train", "shallownet", "--data-dir", str(work)],
                                   ["TF_CONFIG"], env={"TF_CONFIG": raw}))
               for name, raw in cases.items()]
    return [_summarise("broken TF_CONFIG", results, "exit 2 naming TF_CONFIG, no traceback")]


# --------------------------------------------------------------------------- fuzzing


def _fuzz(check: str, strategy, examples: int, attempt) -> dict:
    """Run `attempt(value) -> (survived, crashed, note)` on `examples` hypothesis examples."""
    from hypothesis import HealthCheck, given, settings

    results = []

    @settings(max_examples=examples, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def property_(value):
        results.append((repr(value)[:60], attempt(value)))

    property_()
    failures = [(name, result) for name, result in results if not result[0]]
    summary = _summarise(check, failures or results[:1], "0 tracebacks, every error names "
                         "the file or flag")
    crashed = sum(r[1] for _, r in results)
    summary.update(tried=len(results), survived=len(results) - len(failures), lost=crashed,
                   met=not failures)
    if not failures:
        summary["notes"] = f"{len(results)} examples, 0 tracebacks"
    return summary


def _config_strategy():
    from hypothesis import strategies as st

    keys = st.sampled_from(["recipe", "model", "data", "train", "eval", "name", "steps",
                            "batch_size", "optimizer", "learning_rate", "dataset", "extends",
                            "seed", "image_size", "schedule", "dsn", "gan", "monitor"]) | st.text()
    scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text()
               | st.sampled_from(["classifier", "sgd", "mnist", "shallownet", "1e-3", "[1, 2]"]))
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(keys | st.integers(), inner, max_size=5),
                          max_leaves=25)
    documents = st.dictionaries(keys, values, max_size=8).map(
        lambda d: yaml.safe_dump(d, allow_unicode=True).encode())
    return documents | st.binary(max_size=300) | st.text(max_size=300).map(str.encode)


def _config_fuzz(work: Path, examples: int) -> dict:
    from modelzoo import config

    path = work / "fuzz config.yaml"

    def attempt(document: bytes):
        path.write_bytes(document)
        return _accepts_or_names(lambda: config.load(str(path)), str(path))

    return _fuzz("fuzzed config files (hypothesis)", _config_strategy(), examples, attempt)


def _accepts_or_names(call, *needles) -> tuple[bool, bool, str]:
    survived, crashed, note = _outcome(call, *needles)
    return (survived or note == "accepted"), crashed, note


def _override_fuzz(examples: int) -> dict:
    from hypothesis import strategies as st

    from modelzoo import config

    keys = st.lists(st.sampled_from(["train", "steps", "optimizer", "data", "image_size", "0",
                                     "7", "-1", "model", "name", "x", ""]) | st.text(max_size=5),
                    min_size=1, max_size=4).map(".".join)
    flags = st.tuples(keys, st.sampled_from(["=", "", "=="]), st.text(max_size=20)).map(
        lambda t: "".join(t))

    def attempt(flag: str):
        return _accepts_or_names(lambda: config.load("shallownet", [flag]), "--set")

    return _fuzz("fuzzed --set flags (hypothesis)", flags, examples, attempt)


def _idx_fuzz(work: Path, examples: int) -> dict:
    from hypothesis import strategies as st

    from modelzoo.datasets.converters.idx import read_idx

    valid = idx_bytes(np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5))
    mutated = st.tuples(st.integers(0, len(valid)), st.binary(max_size=8),
                        st.integers(0, len(valid))).map(
        lambda t: valid[:t[0]] + t[1] + valid[t[0] + len(t[1]):t[2] or None])
    contents = st.tuples(mutated | st.binary(max_size=64), st.booleans(), st.sampled_from([1, 3]))
    path = work / "fuzz-images-idx3-ubyte.gz"

    def attempt(value):
        data, zipped, ndim = value
        path.write_bytes(gzip.compress(data, mtime=0) if zipped else data)
        return _accepts_or_names(lambda: read_idx(path, ndim), str(path))

    return _fuzz("fuzzed IDX files (hypothesis)", contents, examples, attempt)


def run(work: Path, quick: bool = False) -> list[dict]:
    examples = 150 if quick else 600
    data_dir = prepared_data_dir(work)
    return [*_idx_rows(work), *_image_rows(work, data_dir), *_config_rows(work),
            *_tf_config_rows(work), _config_fuzz(work, examples), _override_fuzz(examples),
            _idx_fuzz(work, examples)]
