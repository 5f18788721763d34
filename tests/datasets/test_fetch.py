"""download -> verify -> convert over HTTP from a local server (no network), and its failures."""

from __future__ import annotations

import hashlib
import json
import socket
import time

import pytest
from tests.datasets.datasets_testlib import tiny_mnist, write_manifest

from modelzoo import datasets
from modelzoo.errors import ChecksumError, DataError, OfflineError


def _serve(http_server, files, prefix="/tiny/"):
    for name, data in files.items():
        http_server.state.files[prefix + name] = data
    return lambda fname: [f"{http_server.url}{prefix}{fname}"]


def test_download_verify_convert_and_noop(http_server, manifests, tmp_path):
    files = tiny_mnist()
    write_manifest(manifests, "tiny", files, _serve(http_server, files))
    data_dir = tmp_path / "data"

    path = datasets.download("tiny", data_dir)

    assert path == data_dir / "tiny" and datasets.is_ready("tiny", data_dir)
    info = datasets.dataset_info("tiny", data_dir)
    assert info["splits"] == {"train": 30, "test": 10} and info["image_shape"] == [28, 28, 1]
    prov = json.loads((path / "provenance.json").read_text())
    assert prov["all_checksums_matched"] is True
    for rec in prov["files"]:
        assert rec["kind"] == "url" and rec["source"].startswith(http_server.url)
        assert rec["sha256"] == hashlib.sha256(files[rec["file"]]).hexdigest()
        assert (data_dir / "downloads" / rec["file"]).read_bytes() == files[rec["file"]]
    assert not list((data_dir / "downloads").glob("*.part"))
    assert not list((data_dir / ".staging").iterdir())

    # Ready: a no-op that makes no request and takes well under a second.
    before = len(http_server.state.requests)
    started = time.perf_counter()
    assert datasets.download("tiny", data_dir) == path
    assert time.perf_counter() - started < 1.0
    assert len(http_server.state.requests) == before

    # --force rebuilds from the verified cache, without downloading again.
    datasets.download("tiny", data_dir, force=True)
    assert len([r for r in http_server.state.requests if r[0] == "GET"]) == 4


@pytest.mark.parametrize("ranges", [True, False], ids=["server-resumes", "server-ignores-range"])
def test_resume_partial_file(http_server, manifests, tmp_path, ranges):
    files = tiny_mnist(n_train=200)
    write_manifest(manifests, "tiny", files, _serve(http_server, files),
                   splits={"train": 200, "test": 10})
    http_server.state.ranges = ranges
    big = "train-images-idx3-ubyte.gz"
    downloads = tmp_path / "data" / "downloads"
    downloads.mkdir(parents=True)
    half = len(files[big]) // 2
    (downloads / f"{big}.part").write_bytes(files[big][:half])

    datasets.download("tiny", tmp_path / "data")

    assert (downloads / big).read_bytes() == files[big]
    gets = [r for r in http_server.state.requests if r[0] == "GET" and r[1].endswith(big)]
    assert gets == [("GET", f"/tiny/{big}", f"bytes={half}-")]
    sent = http_server.state.served_bytes[f"/tiny/{big}"]
    assert sent == (len(files[big]) - half if ranges else len(files[big]))


def test_interrupted_transfer_is_retried_and_resumed(http_server, manifests, tmp_path,
                                                     fast_retries):
    files = tiny_mnist(n_train=200)
    write_manifest(manifests, "tiny", files, _serve(http_server, files),
                   splits={"train": 200, "test": 10})
    big = "train-images-idx3-ubyte.gz"
    http_server.state.behaviour[f"/tiny/{big}"] = "truncate-once"

    datasets.download("tiny", tmp_path / "data")

    gets = [r for r in http_server.state.requests if r[0] == "GET" and r[1].endswith(big)]
    assert len(gets) == 2 and gets[0][2] is None and gets[1][2].startswith("bytes=")
    assert (tmp_path / "data" / "downloads" / big).read_bytes() == files[big]


def test_wrong_sha256_is_a_checksum_error(http_server, manifests, tmp_path):
    files = tiny_mnist()
    wrong = "0" * 64
    name = "t10k-labels-idx1-ubyte.gz"
    write_manifest(manifests, "tiny", files, _serve(http_server, files),
                   sha_override={name: wrong})
    data_dir = tmp_path / "data"

    with pytest.raises(ChecksumError) as err:
        datasets.download("tiny", data_dir)

    text = str(err.value)
    got = hashlib.sha256(files[name]).hexdigest()
    assert wrong in text and got in text and name in text and "--from" in text
    bad = data_dir / "downloads" / f"{name}.{got[:12]}.bad"
    assert bad.is_file() and str(bad) in text
    assert not (data_dir / "downloads" / name).exists()  # never under its good name
    assert not datasets.is_ready("tiny", data_dir) and not (data_dir / "tiny").exists()


def test_html_page_instead_of_file(http_server, manifests, tmp_path):
    files = tiny_mnist()
    serve = _serve(http_server, files)
    name = "train-labels-idx1-ubyte.gz"
    http_server.state.behaviour[f"/tiny/{name}"] = "html"
    write_manifest(manifests, "tiny", files, serve)

    with pytest.raises(DataError) as err:
        datasets.download("tiny", tmp_path / "data")

    text = str(err.value)
    assert f"{http_server.url}/tiny/{name}" in text and "HTML" in text and "HTTP 200" in text
    assert not (tmp_path / "data" / "downloads" / f"{name}.part").exists()


@pytest.mark.parametrize("status", [404, 500])
def test_http_error_names_url_and_status(http_server, manifests, tmp_path, status,
                                         fast_retries):
    files = tiny_mnist()
    name = "t10k-images-idx3-ubyte.gz"
    http_server.state.behaviour[f"/tiny/{name}"] = status
    write_manifest(manifests, "tiny", files, _serve(http_server, files))

    with pytest.raises(DataError) as err:
        datasets.download("tiny", tmp_path / "data")

    assert not isinstance(err.value, (ChecksumError, OfflineError))
    assert f"{http_server.url}/tiny/{name}" in str(err.value)
    assert f"HTTP {status}" in str(err.value)
    gets = [r for r in http_server.state.requests if r[0] == "GET" and r[1].endswith(name)]
    assert len(gets) == (1 if status == 404 else 3)  # 5xx: bounded retries


def test_next_mirror_after_a_failing_one(http_server, manifests, tmp_path):
    files = tiny_mnist()
    _serve(http_server, files, prefix="/good/")
    write_manifest(manifests, "tiny", files, lambda f: [f"{http_server.url}/missing/{f}",
                                                        f"{http_server.url}/good/{f}"])
    path = datasets.download("tiny", tmp_path / "data")
    prov = json.loads((path / "provenance.json").read_text())
    assert all("/good/" in rec["source"] for rec in prov["files"])


def test_connection_refused_fails_fast_and_names_from(manifests, tmp_path, free_port):
    files = tiny_mnist()
    write_manifest(manifests, "tiny", files,
                   lambda f: [f"http://127.0.0.1:{free_port}/{f}", f"http://nowhere.invalid/{f}"])

    started = time.perf_counter()
    with pytest.raises(OfflineError) as err:
        datasets.download("tiny", tmp_path / "data")
    elapsed = time.perf_counter() - started

    text = str(err.value)
    assert elapsed < 10
    assert f"127.0.0.1:{free_port}" in text and "nowhere.invalid" in text
    assert all(name in text for name in files)
    assert "modelzoo download --dataset tiny" in text and "--from" in text


def test_silent_host_times_out_within_budget(manifests, tmp_path):
    """A host that accepts connections but never answers (a black hole): < 10 s in total."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        files = tiny_mnist()
        write_manifest(manifests, "tiny", files, lambda f: [f"http://127.0.0.1:{port}/{f}"])
        started = time.perf_counter()
        with pytest.raises(OfflineError) as err:
            datasets.download("tiny", tmp_path / "data")
        assert time.perf_counter() - started < 10
    assert "no answer" in str(err.value)


def test_from_mirror_url_accepts_a_mismatch_with_warning(http_server, manifests, tmp_path,
                                                         capsys):
    files = tiny_mnist()
    write_manifest(manifests, "tiny", files, lambda f: [f"http://nowhere.invalid/{f}"])
    other = tiny_mnist(seed=1)  # same names, different bytes
    _serve(http_server, other, prefix="/mirror/")

    path = datasets.download("tiny", tmp_path / "data", source=f"{http_server.url}/mirror")

    prov = json.loads((path / "provenance.json").read_text())
    assert prov["all_checksums_matched"] is False
    for rec in prov["files"]:  # the image files differ; the label files are identical
        same = other[rec["file"]] == files[rec["file"]]
        assert rec["checksum_matched"] is same
        assert rec["sha256"] == hashlib.sha256(other[rec["file"]]).hexdigest()
        assert rec["expected_sha256"] == hashlib.sha256(files[rec["file"]]).hexdigest()
        if not same:
            assert rec["accepted_via"] == "--from"
            assert not (tmp_path / "data" / "downloads" / rec["file"]).exists()
    assert not all(rec["checksum_matched"] for rec in prov["files"])
    err = capsys.readouterr().err.replace("\n", " ")
    assert "differs from the manifest" in err


def test_from_local_folder(manifests, tmp_path, capsys):
    files = tiny_mnist()
    write_manifest(manifests, "tiny", files, lambda f: [f"http://nowhere.invalid/{f}"])
    folder = tmp_path / "src" / "tiny"  # found in a `tiny/` sub-folder of --from too
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)

    path = datasets.download("tiny", tmp_path / "data", source=str(tmp_path / "src"))

    prov = json.loads((path / "provenance.json").read_text())
    assert prov["all_checksums_matched"] is True
    assert {rec["source"] for rec in prov["files"]} == {str(folder / n) for n in files}
    assert "differs" not in capsys.readouterr().err


def test_from_folder_missing_files_says_which(manifests, tmp_path):
    files = tiny_mnist()
    write_manifest(manifests, "tiny", files, lambda f: [f"http://nowhere.invalid/{f}"])
    (tmp_path / "src").mkdir()
    name = "train-images-idx3-ubyte.gz"
    (tmp_path / "src" / name).write_bytes(files[name])
    with pytest.raises(DataError) as err:
        datasets.download("tiny", tmp_path / "data", source=str(tmp_path / "src"))
    assert "t10k-labels-idx1-ubyte.gz" in str(err.value) and str(tmp_path / "src") in str(err.value)


def test_from_nonexistent_path(manifests, tmp_path):
    files = tiny_mnist()
    write_manifest(manifests, "tiny", files, lambda f: [f"http://nowhere.invalid/{f}"])
    with pytest.raises(DataError, match="no such file or folder"):
        datasets.download("tiny", tmp_path / "data", source=str(tmp_path / "nope"))
