"""`python -m bench.reliability [--only CATS] [--quick] [--keep]`: run, print, write JSON."""

from __future__ import annotations

import argparse
import importlib
import platform
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench.reliability import CATEGORIES
from bench.reliability.common import REPO, row

from modelzoo import files

OUT = REPO / ".bench" / "reliability.json"
COLUMNS = ("category", "check", "tried", "survived", "lost", "goal", "met")


def run_category(name: str, work: Path, quick: bool) -> tuple[list[dict], float]:
    started = time.perf_counter()
    module = importlib.import_module(f"bench.reliability.{name}")
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        rows = module.run(folder, quick=quick)
    except Exception as exc:  # noqa: BLE001 - a crashing category is itself a finding
        traceback.print_exc()
        rows = [row(name, "category ran to the end", 1, 0, 1, "no crash", False,
                    f"{type(exc).__name__}: {exc}")]
    return rows, time.perf_counter() - started


def print_table(rows: list[dict]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain text is enough
        Console = None
    if Console is not None:
        table = Table(title="modelzoo reliability: tried / survived / lost", title_justify="left")
        for column in COLUMNS:
            table.add_column(column, justify="right" if column in ("tried", "survived", "lost")
                             else "left")
        for r in rows:
            table.add_row(*(("yes" if r[c] else "NO") if c == "met" else str(r[c])
                            for c in COLUMNS))
        Console(width=160).print(table)
        return
    for r in rows:
        print(" | ".join(str(r[c]) for c in COLUMNS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__)
    parser.add_argument("--only", default=",".join(CATEGORIES),
                        help=f"comma-separated categories (default all: {', '.join(CATEGORIES)})")
    parser.add_argument("--quick", action="store_true", help="fewer trials and examples")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    chosen = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = sorted(set(chosen) - set(CATEGORIES))
    if unknown:
        parser.error(f"unknown categories {unknown}; choose from {', '.join(CATEGORIES)}")
    work = Path(tempfile.mkdtemp(prefix="modelzoo-reliability-"))
    started = time.perf_counter()
    rows, seconds = [], {}
    try:
        for name in chosen:
            print(f"== {name} ...", flush=True)
            category_rows, seconds[name] = run_category(name, work, args.quick)
            rows += category_rows
            print(f"== {name}: {sum(r['met'] for r in category_rows)}/{len(category_rows)} "
                  f"goals met in {seconds[name]:.0f} s", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows)
    for r in rows:
        if r["notes"]:
            print(f"  {r['category']} / {r['check']}: {r['notes']}")
    total = time.perf_counter() - started
    met = all(r["met"] for r in rows)
    files.write_json(OUT, {"when": time.strftime("%Y-%m-%dT%H:%M:%S"),
                           "machine": platform.platform(), "python": sys.version.split()[0],
                           "quick": args.quick, "wall_seconds": round(total, 1),
                           "category_seconds": {k: round(v, 1) for k, v in seconds.items()},
                           "all_goals_met": met, "rows": rows})
    print(f"{sum(r['met'] for r in rows)}/{len(rows)} goals met in {total:.0f} s; wrote {OUT}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
