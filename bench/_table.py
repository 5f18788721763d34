"""Shared by the bench scripts: print a table and write the figures as JSON under .bench/."""

from __future__ import annotations

import platform
import time
from pathlib import Path

from modelzoo import files

BENCH_DIR = Path(__file__).resolve().parents[1] / ".bench"


def report(name: str, rows: list[dict], summary: dict) -> Path:
    """Print `rows` as an aligned table plus `summary`, and save both to .bench/<name>.json."""
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(_fmt(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(_fmt(row[c]).ljust(widths[c]) for c in columns))
    for key, value in summary.items():
        print(f"{key}: {_fmt(value)}")
    path = BENCH_DIR / f"{name}.json"
    payload = {"bench": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "machine": platform.platform(), "rows": rows, "summary": summary}
    files.write_json(path, payload)
    print(f"wrote {path}")
    return path


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
