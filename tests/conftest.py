"""Shared fixtures: the shared sample data and a data dir with mnist + mnist_m prepared from it.

The sample lives beside the repository (`<repo>/../shared/data`, as in CI's clean clone) or where
`$MODELZOO_SHARED_DATA` points. Tests that need it are skipped, with the reason, when it is absent.
No test touches the network: download tests serve files from 127.0.0.1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path | None:
    for candidate in (REPO / ".." / "shared" / "data", os.environ.get("MODELZOO_SHARED_DATA")):
        if candidate and (Path(candidate) / "mnist").is_dir():
            return Path(candidate).resolve()
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared sample data folder (`mnist/`, `bsds500/train/`)."""
    found = _shared_data()
    if found is None:
        pytest.skip("shared sample data not found: expected <repo>/../shared/data or "
                    "$MODELZOO_SHARED_DATA")
    return found


@pytest.fixture(scope="session")
def sample_data_dir(shared_data, tmp_path_factory) -> Path:
    """A data dir with mnist (6,000 train / 1,000 test) and mnist_m prepared from the sample
    through `download(..., source=...)`. Session-scoped: treat it as read-only."""
    from modelzoo import datasets

    data_dir = tmp_path_factory.mktemp("sample-data")
    datasets.download("mnist", data_dir, source=str(shared_data / "mnist"))
    datasets.download("mnist_m", data_dir, source=str(shared_data / "bsds500" / "train"))
    return data_dir
