"""Fixtures for the dataset tests (helpers live in datasets_testlib.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.datasets.datasets_testlib import free_port as _free_port
from tests.datasets.datasets_testlib import start_server


@pytest.fixture
def http_server():
    """A local HTTP server; set `.state.files[path] = bytes` and `.state.behaviour[path]`."""
    server, stop = start_server()
    try:
        yield server
    finally:
        stop()


@pytest.fixture
def free_port() -> int:
    return _free_port()


@pytest.fixture
def manifests(tmp_path, monkeypatch) -> Path:
    """An empty manifests folder that `load_manifest` reads instead of datasets/."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    monkeypatch.setenv("MODELZOO_MANIFESTS_DIR", str(folder))
    return folder


@pytest.fixture
def fast_retries(monkeypatch):
    from modelzoo.datasets import fetch

    monkeypatch.setattr(fetch, "RETRY_DELAYS", (0.05, 0.1))
