"""Concurrency: 4 `modelzoo download` processes prepare the same dataset in one data dir at once.

Exactly one must build (one "converting" line, each upstream file fetched once), the others wait
on the lock and reuse it; all exit 0; nothing is left in `.staging/` or `downloads/*.part`; and
the result is byte-identical to a single build in another data dir (provenance.json differs only
in its `prepared` time stamp). Run twice: from the local HTTP server and from a `--from` folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.reliability.common import fresh, modelzoo, row, tiny_mnist, tiny_mnist_folder, tree
from tests.datasets.datasets_testlib import start_server, write_manifest

CATEGORY = "concurrency"
PROCESSES = 4


def _dataset_bytes(folder: Path) -> dict[str, bytes]:
    out = {}
    for name in sorted(tree(folder)):
        path = folder / name
        if path.is_file():
            data = path.read_bytes()
            if name == "provenance.json":
                record = json.loads(data)
                record.pop("prepared", None)
                data = json.dumps(record, sort_keys=True).encode()
            out[name] = data
    return out


def _race(name: str, args: list[str], work: Path, env: dict) -> tuple[list, Path]:
    data_dir = fresh(work / "shared-data")
    procs = [modelzoo(["download", "--dataset", name, *args, "--data-dir", str(data_dir)],
                      data_dir, work, env=env, background=True) for _ in range(PROCESSES)]
    results = [(p.communicate(timeout=300)[0], p.returncode) for p in procs]
    return results, data_dir


def _scenario(check: str, name: str, args: list[str], work: Path, env: dict,
              gets=None) -> dict:
    results, data_dir = _race(name, args, fresh(work / "race"), env)
    single_dir = work / "single" / "data"
    single = modelzoo(["download", "--dataset", name, *args, "--data-dir", str(single_dir)],
                      single_dir, fresh(work / "single"), env=env)
    builders = sum(f"{name}: converting" in out for out, _ in results)
    waited = sum("another modelzoo process is preparing it" in out or "meanwhile" in out
                 for out, _ in results)
    exits = [code for _, code in results]
    leftovers = [p for p in tree(data_dir) if p.startswith(".staging/") or p.endswith(".part")]
    identical = single.returncode == 0 and \
        _dataset_bytes(data_dir / name) == _dataset_bytes(single_dir / name)
    fetched = gets() if gets else None
    ok = (exits == [0] * PROCESSES and builders == 1 and not leftovers and identical
          and (fetched is None or fetched == 4 * 2))  # 4 files, raced once + single build once
    notes = (f"exit codes {exits}; {builders} built, {waited} waited on the lock; "
             f"byte-identical to a single build: {identical}"
             + (f"; {fetched} GETs for 2 builds of 4 files" if fetched is not None else "")
             + (f"; left behind: {leftovers}" if leftovers else ""))
    return row(CATEGORY, check, PROCESSES, sum(c == 0 for c in exits), 0 if identical else 1,
               "1 build, all exit 0, identical to a single build", ok, notes)


def run(work: Path, quick: bool = False) -> list[dict]:
    rows = []
    files = tiny_mnist(n_train=400, n_test=20)
    manifests = fresh(work / "manifests")
    server, stop = start_server()
    try:
        for fname, data in files.items():
            server.state.files[f"/tiny/{fname}"] = data
        write_manifest(manifests, "tiny", files, lambda f: [f"{server.url}/tiny/{f}"],
                       splits={"train": 400, "test": 20})

        def gets():
            return sum(1 for r in server.state.requests if r[0] == "GET")

        rows.append(_scenario(f"{PROCESSES} processes download + prepare from HTTP", "tiny", [],
                              work / "http", {"MODELZOO_MANIFESTS_DIR": str(manifests)}, gets))
    finally:
        stop()
    source = tiny_mnist_folder(work / "mnist-src")
    rows.append(_scenario(f"{PROCESSES} processes prepare mnist --from a folder", "mnist",
                          ["--from", str(source)], work / "from", {}))
    return rows
