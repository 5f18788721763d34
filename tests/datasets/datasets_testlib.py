"""Helpers for the dataset tests: a local HTTP server, tiny IDX files and fake manifests.

Imported by the tests as `from tests.datasets.datasets_testlib import ...`.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import yaml

from tests.engine_testlib import free_port  # noqa: F401  (re-exported: a refusing port)

# --------------------------------------------------------------------------- HTTP server


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)  # URL path -> body
    # URL path -> an int status, "html", or a word of MISBEHAVIOURS ("reset-once", "slow", ...)
    behaviour: dict[str, object] = field(default_factory=dict)
    ranges: bool = True  # honour Range requests
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    served_bytes: dict[str, int] = field(default_factory=dict)
    slow_s: float = 30.0  # how long "slow" stalls before sending the body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    def _send(self, status: int, body: bytes, ctype: str, head: bool, extra=None,
              declared: int | None = None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if declared is None else declared))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)
            state = self.server.state
            state.served_bytes[self.path] = state.served_bytes.get(self.path, 0) + len(body)

    def _serve(self, head: bool):
        state: ServerState = self.server.state
        rng = self.headers.get("Range")
        state.requests.append((self.command, self.path, rng))
        what = state.behaviour.get(self.path)
        if isinstance(what, int) and not head:
            self._send(what, f"error {what}".encode(), "text/plain", head)
            return
        if what == "html":
            page = b"<!DOCTYPE html>\n<html><body>Please log in</body></html>\n"
            self._send(200, page, "text/html; charset=utf-8", head)
            return
        data = state.files.get(self.path)
        if data is None:
            self._send(404, b"not found", "text/plain", head)
            return
        if what in MISBEHAVIOURS and not head:
            if what.endswith("-once"):
                state.behaviour.pop(self.path)
            MISBEHAVIOURS[what](self, data)
            return
        if rng and state.ranges and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[len("bytes="):-1])
            if start >= len(data):
                self._send(416, b"", "text/plain", head,
                           {"Content-Range": f"bytes */{len(data)}"})
                return
            self._send(206, data[start:], "application/octet-stream", head,
                       {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
            return
        self._send(200, data, "application/octet-stream", head)


def _truncate(handler: _Handler, data: bytes) -> None:
    """Promise the whole file, send half, close: a body cut short."""
    handler._send(200, data[: len(data) // 2], "application/octet-stream", False,
                  declared=len(data))
    handler.close_connection = True


def _reset(handler: _Handler, data: bytes) -> None:
    """Send half the file, then reset the TCP connection (RST, not a clean close)."""
    handler._send(200, data[: len(data) // 2], "application/octet-stream", False,
                  declared=len(data))
    handler.wfile.flush()
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True


def _wrong_bytes(handler: _Handler, data: bytes) -> None:
    """The right length, the wrong content (a damaged mirror)."""
    handler._send(200, bytes(b ^ 0x5A for b in data), "application/octet-stream", False)


def _slow(handler: _Handler, data: bytes) -> None:
    """Headers at once, then silence for `state.slow_s` seconds before the body."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.flush()
    time.sleep(handler.server.state.slow_s)
    try:
        handler.wfile.write(data)
    except OSError:  # the client gave up, as it should
        pass
    handler.close_connection = True


# behaviour word -> how to answer a GET; a "-once" variant misbehaves once, then serves normally.
MISBEHAVIOURS = {}
for _word, _answer in (("truncate", _truncate), ("reset", _reset), ("wrong-bytes", _wrong_bytes),
                       ("slow", _slow)):
    MISBEHAVIOURS[_word] = MISBEHAVIOURS[f"{_word}-once"] = _answer


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    state: ServerState


def start_server():
    """A threaded HTTP server on 127.0.0.1 (an ephemeral port); returns (Server, stop)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.state = ServerState()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    return Server(f"http://127.0.0.1:{server.server_address[1]}", server.state), stop


# --------------------------------------------------------------------------- tiny IDX data


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) \
        + array.tobytes()


def tiny_mnist(n_train: int = 30, n_test: int = 10, seed: int = 0) -> dict[str, bytes]:
    """Four gzipped IDX files with deterministic random 28x28 digits."""
    rng = np.random.default_rng(seed)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        out[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images), mtime=0)
        out[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels), mtime=0)
    return out


def write_manifest(folder: Path, name: str, files: dict[str, bytes], urls, *,
                   sha_override: dict[str, str] | None = None, splits=None) -> Path:
    """An idx-converter manifest named `name` for `files`; `urls(filename)` gives the mirrors."""
    sha_override = sha_override or {}
    manifest = {
        "name": name, "description": "tiny test digits", "homepage": "http://example.invalid/",
        "license": "test", "citation": "none", "converter": "idx",
        "image_shape": [28, 28, 1], "num_classes": 10,
        "splits": splits or {"train": 30, "test": 10},
        "options": {"splits": {
            "train": {"images": "train-images-idx3-ubyte.gz",
                      "labels": "train-labels-idx1-ubyte.gz"},
            "test": {"images": "t10k-images-idx3-ubyte.gz",
                     "labels": "t10k-labels-idx1-ubyte.gz"}}},
        "files": [{"filename": fname, "size": len(data),
                   "sha256": sha_override.get(fname, hashlib.sha256(data).hexdigest()),
                   "urls": list(urls(fname))} for fname, data in files.items()],
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path
