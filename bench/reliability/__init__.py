"""Reliability and security suite: inject faults into modelzoo and count what survives.

    python -m bench.reliability            # every category; prints a table, writes .bench/reliability.json
    python -m bench.reliability --only downloads,archives --quick

Each category module has `run(work: Path, quick: bool) -> list[dict]`, one row per check:
{category, check, tried, survived, lost, goal, met, notes}. Everything is real: `modelzoo`
subprocesses killed with SIGKILL, a misbehaving HTTP server on 127.0.0.1, hostile archives on disk.
The fast categories also run under pytest (tests/test_reliability.py).
"""

CATEGORIES = ("downloads", "archives", "badinput", "concurrency", "disk", "crashes",
              "multiworker")
FAST = ("downloads", "archives", "badinput", "concurrency", "disk")
