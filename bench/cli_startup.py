"""`modelzoo --help` against `python -c "import tensorflow"`, in the same run.

Goal (issue 2): the CLI's help costs at most 0.1x TensorFlow's import. Each command runs
`--repeat` times in a fresh process; the median wall time is compared.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _table import report

COMMANDS = {
    "modelzoo --help": [sys.executable, "-m", "modelzoo", "--help"],
    "modelzoo list": [sys.executable, "-m", "modelzoo", "list"],
    "modelzoo config show dsn": [sys.executable, "-m", "modelzoo", "config", "show", "dsn"],
    "python -c 'import tensorflow'": [sys.executable, "-c", "import tensorflow"],
}


def wall_time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for argv in COMMANDS.values():  # warm the file cache so the first sample is not an outlier
        wall_time(argv)
    medians = {name: statistics.median(wall_time(argv) for _ in range(args.repeat))
               for name, argv in COMMANDS.items()}
    baseline = medians["python -c 'import tensorflow'"]
    rows = [{"command": name, "median_s": t, "ratio_vs_import_tf": t / baseline}
            for name, t in medians.items()]
    ratio = medians["modelzoo --help"] / baseline
    report("cli_startup", rows, {"help_vs_import_tf": ratio, "goal": "<= 0.1",
                                 "met": ratio <= 0.1})


if __name__ == "__main__":
    main()
