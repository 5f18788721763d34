"""Download faults: a local HTTP server on 127.0.0.1 that misbehaves on purpose.

For each fault one real `datasets.download` (what `modelzoo download` calls) runs against a tiny
manifest. Survived: the fault is detected with a message naming the URL (or recovered from, where a
retry can), retried exactly where sensible (transient faults: 3 attempts; 404, wrong bytes, HTML:
1), the dataset is not marked ready, no bad file sits under its cache name, and once the server is
healthy again the same command succeeds. Lost: a dataset wrongly marked ready.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass
from pathlib import Path

from bench.reliability.common import environ, fresh, row, tiny_mnist
from tests.datasets.datasets_testlib import free_port, start_server, write_manifest

CATEGORY = "downloads"
BIG = "train-images-idx3-ubyte.gz"
READ_TIMEOUT = 1.0  # seconds; the product's 20 s default would make "slow" take a minute


@dataclass(frozen=True)
class Fault:
    check: str
    behaviour: object  # what the server does for BIG (see datasets_testlib.MISBEHAVIOURS)
    error: str | None  # the ModelzooError class expected, None: recovered from
    gets: int  # GET requests for BIG that are right: retries where sensible, none otherwise
    needle: tuple[str, ...]  # the message must say one of these


FAULTS = [
    Fault("truncated body (every time)", "truncate", "DataError", 3, ("connection closed after",)),
    Fault("truncated body (once): resumed", "truncate-once", None, 2, ()),
    Fault("wrong bytes (same length)", "wrong-bytes", "ChecksumError", 1, ("sha256",)),
    Fault("HTML error page with status 200", "html", "DataError", 1, ("HTML page",)),
    # The RST can reach the client before or after it has read the half body that was sent:
    # an interrupted read, or a clean-looking close short of Content-Length. Both are detected.
    Fault("connection reset mid-file (every time)", "reset", "DataError", 3,
          ("interrupted", "connection closed after")),
    Fault("connection reset mid-file (once): resumed", "reset-once", None, 2, ()),
    Fault("HTTP 404", 404, "DataError", 1, ("HTTP 404",)),
    Fault("HTTP 500", 500, "DataError", 3, ("HTTP 500",)),
    Fault(f"slow server past the {READ_TIMEOUT:.0f} s read timeout", "slow", "DataError", 3,
          ("no answer in time",)),
]


def _attempt(data_dir: Path):
    """(the ModelzooError or None, what was printed)."""
    from modelzoo import datasets
    from modelzoo.errors import ModelzooError

    printed = io.StringIO()
    with contextlib.redirect_stderr(printed):
        try:
            datasets.download("tiny", data_dir)
        except ModelzooError as err:
            return err, printed.getvalue()
    return None, printed.getvalue()


def _clean_cache(data_dir: Path, files: dict[str, bytes]) -> bool:
    """No file under a cache name unless it holds the right bytes; no dataset folder left."""
    downloads = data_dir / "downloads"
    for name, data in files.items():
        cached = downloads / name
        if cached.exists() and cached.read_bytes() != data:
            return False
    return not (data_dir / "tiny").exists()


def _fault(fault: Fault, server, files, manifests: Path, work: Path) -> dict:
    from modelzoo import datasets

    state = server.state
    state.requests.clear()
    state.behaviour.clear()
    state.behaviour[f"/tiny/{BIG}"] = fault.behaviour
    data_dir = fresh(work / "data")
    started = time.perf_counter()
    err, _ = _attempt(data_dir)
    took = time.perf_counter() - started
    gets = sum(1 for r in state.requests if r[0] == "GET" and r[1].endswith(BIG))
    ready = datasets.is_ready("tiny", data_dir)
    notes = [f"{gets} GET(s) of {BIG}", f"{took:.1f} s"]
    if fault.error is None:
        ok = err is None and ready and (data_dir / "downloads" / BIG).read_bytes() == files[BIG]
        notes.append("recovered" if ok else f"not recovered: {err}")
        lost = 0
    else:
        text = str(err) if err else ""
        detected = (type(err).__name__ == fault.error
                    and any(needle in text for needle in fault.needle)
                    and f"/tiny/{BIG}" in text)
        lost = int(ready)
        clean = _clean_cache(data_dir, files)
        state.behaviour.clear()  # the server heals: the same command must now succeed
        healed, _ = _attempt(data_dir)
        ok = detected and not ready and clean and healed is None \
            and datasets.is_ready("tiny", data_dir)
        notes.append(f"{type(err).__name__ if err else 'no error'}: "
                     f"{text.splitlines()[0][:110] if text else ''}")
        if healed is not None:
            notes.append(f"after healing: {healed}")
    ok = ok and gets == fault.gets
    goal = (f"detected, {fault.gets} GET(s), not ready, heals" if fault.error
            else f"resumed on retry ({fault.gets} GETs), ready")
    return row(CATEGORY, fault.check, 1, int(ok), lost, goal, ok, "; ".join(notes))


def _unreachable(check: str, url: str, files, manifests: Path, work: Path) -> dict:
    from modelzoo import datasets

    write_manifest(manifests, "tiny", files, lambda f: [f"{url}/{f}"])
    data_dir = fresh(work / "data")
    started = time.perf_counter()
    err, _ = _attempt(data_dir)
    took = time.perf_counter() - started
    ready = datasets.is_ready("tiny", data_dir)
    ok = (type(err).__name__ == "OfflineError" and "--from" in str(err) and not ready
          and took < 10 and _clean_cache(data_dir, files))
    return row(CATEGORY, check, 1, int(ok), int(ready), "OfflineError in < 10 s, not ready", ok,
               f"{type(err).__name__ if err else 'no error'} after {took:.1f} s")


def run(work: Path, quick: bool = False) -> list[dict]:
    from modelzoo.datasets import fetch

    files = tiny_mnist(n_train=400, n_test=20)
    manifests = fresh(work / "manifests")
    server, stop = start_server()
    server.state.slow_s = 3 * READ_TIMEOUT
    old_timeout, fetch.READ_TIMEOUT = fetch.READ_TIMEOUT, READ_TIMEOUT
    rows = []
    try:
        with environ(MODELZOO_MANIFESTS_DIR=str(manifests)):
            for name, data in files.items():
                server.state.files[f"/tiny/{name}"] = data
            write_manifest(manifests, "tiny", files, lambda f: [f"{server.url}/tiny/{f}"],
                           splits={"train": 400, "test": 20})
            rows += [_fault(fault, server, files, manifests, work) for fault in FAULTS]
            rows.append(_unreachable("no route to host (192.0.2.1, TEST-NET-1)",
                                     "http://192.0.2.1:9", files, manifests, work))
            rows.append(_unreachable("connection refused (closed port)",
                                     f"http://127.0.0.1:{free_port()}", files, manifests, work))
    finally:
        fetch.READ_TIMEOUT = old_timeout
        stop()
    wrongly_ready = sum(r["lost"] for r in rows)
    rows.append(row(CATEGORY, "datasets wrongly marked ready", len(rows),
                    len(rows) - wrongly_ready, wrongly_ready, "0", wrongly_ready == 0))
    return rows
