"""The fast categories of the reliability suite (bench/reliability), with fewer examples: every
goal must be met. The slow ones (10 kill -9 runs, multi-worker) run under `make reliability`."""

from __future__ import annotations

import importlib

import pytest

from bench.reliability import FAST


@pytest.mark.parametrize("category", FAST)
def test_every_goal_is_met(category, tmp_path):
    rows = importlib.import_module(f"bench.reliability.{category}").run(tmp_path, quick=True)
    assert rows
    failed = [r for r in rows if not r["met"]]
    assert not failed, "\n".join(f"{r['check']}: {r['notes']}" for r in failed)
    assert all(r["tried"] > 0 for r in rows)
