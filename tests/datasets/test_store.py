"""Ready markers, atomic install, the no-op fast path and two concurrent downloads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.datasets.datasets_testlib import tiny_mnist, write_manifest

from modelzoo import datasets
from modelzoo.errors import DataError

REPO = Path(__file__).resolve().parents[2]


def _python(code: str, **env) -> subprocess.Popen:
    environ = dict(os.environ, **env)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environ.get("PYTHONPATH")]))
    environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_ready_dataset_is_a_fast_noop_without_tensorflow(sample_data_dir):
    proc = _python(f"""
        import sys, time
        t = time.perf_counter()
        from modelzoo import datasets
        path = datasets.download("mnist", {str(sample_data_dir)!r})
        ready = datasets.is_ready("mnist_m", {str(sample_data_dir)!r})
        print(time.perf_counter() - t, "tensorflow" in sys.modules, ready, path)
    """)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    seconds, tf_loaded, ready, path = out.split()
    assert float(seconds) < 1.0 and tf_loaded == "False" and ready == "True"
    assert Path(path) == sample_data_dir / "mnist"


def test_two_concurrent_downloads_make_one_good_dataset(shared_data, tmp_path):
    data_dir = tmp_path / "data"
    code = f"""
        from modelzoo import datasets
        datasets.download("mnist", {str(data_dir)!r}, source={str(shared_data / 'mnist')!r})
    """
    procs = [_python(code) for _ in range(2)]
    results = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    stderr = "".join(err for _, err in results)
    assert stderr.count("mnist: converting") == 1  # the other waited, then found it ready
    assert datasets.is_ready("mnist", data_dir)
    assert datasets.dataset_info("mnist", data_dir)["splits"] == {"test": 1000, "train": 6000}
    assert not list((data_dir / ".staging").iterdir())
    assert sorted(p.name for p in (data_dir / "mnist").iterdir()) == [
        "READY", "info.json", "provenance.json", "test-00000-of-00001.tfrecord",
        "train-00000-of-00001.tfrecord"]


def _source(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_failed_conversion_leaves_nothing_half_written(manifests, tmp_path):
    files = tiny_mnist()
    write_manifest(manifests, "tiny", files, lambda f: [f"http://nowhere.invalid/{f}"])
    broken = dict(files, **{"t10k-images-idx3-ubyte.gz": files["t10k-images-idx3-ubyte.gz"][:-9]})
    data_dir = tmp_path / "data"

    with pytest.raises(DataError):
        datasets.download("tiny", data_dir, source=str(_source(tmp_path / "bad", broken)))
    assert not (data_dir / "tiny").exists() and not datasets.is_ready("tiny", data_dir)
    assert not list((data_dir / ".staging").iterdir())

    good = datasets.download("tiny", data_dir, source=str(_source(tmp_path / "good", files)))
    before = {p.name: p.read_bytes() for p in good.iterdir() if p.suffix == ".tfrecord"}

    # A failed --force rebuild keeps the old, complete dataset.
    with pytest.raises(DataError):
        datasets.download("tiny", data_dir, source=str(tmp_path / "bad"), force=True)
    assert datasets.is_ready("tiny", data_dir)
    assert {p.name: p.read_bytes() for p in good.iterdir() if p.suffix == ".tfrecord"} == before
    info = json.loads((good / "info.json").read_text())
    assert info["splits"]["train"]["examples"] == 30


def test_is_ready_needs_the_marker(tmp_path):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "info.json").write_text("{}")
    assert not datasets.is_ready("mnist", tmp_path)
    (tmp_path / "mnist" / "READY").write_text('{"format": 999}')
    assert not datasets.is_ready("mnist", tmp_path)
