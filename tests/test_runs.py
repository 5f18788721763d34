"""Run-dir bookkeeping that a crash must not break: metrics.jsonl after kill -9 and resume."""

from __future__ import annotations

import json

from modelzoo import runs
from modelzoo.engine import _short_tf_message


def _write(run_dir, lines):
    (run_dir / "metrics.jsonl").write_text("".join(lines))


def test_trim_drops_steps_after_the_checkpoint_and_torn_lines(tmp_path):
    records = [{"phase": "train", "step": s} for s in (10, 20, 30, 40)]
    _write(tmp_path, [json.dumps(r) + "\n" for r in records] + ['{"phase": "tr'])
    assert [r["step"] for r in runs.read_metrics(tmp_path)] == [10, 20, 30, 40]
    runs.trim_metrics(tmp_path, 20)
    assert [r["step"] for r in runs.read_metrics(tmp_path)] == [10, 20]
    assert (tmp_path / "metrics.jsonl").read_text().endswith("}\n")


def test_trim_without_metrics_is_a_no_op(tmp_path):
    runs.trim_metrics(tmp_path, 0)
    assert not (tmp_path / "metrics.jsonl").exists()


def test_lost_worker_message_keeps_the_gist():
    class Lost(Exception):
        message = ("Graph execution error:\n\nDetected at node CollectiveReduceV2 defined at "
                   "(most recent call last):\n  File \"x.py\", line 1, in <module>\n\n"
                   "Collective ops is aborted by: The following tasks are unhealthy (stopped "
                   "sending heartbeats):\n/job:worker/replica:0/task:1\nThe error could be from "
                   "a previous operation.\n\t [[{{node CollectiveReduceV2}}]] [Op:__inference_f]")

    assert _short_tf_message(Lost()) == ("Collective ops is aborted by: The following tasks are "
                                         "unhealthy (stopped sending heartbeats): "
                                         "/job:worker/replica:0/task:1")
