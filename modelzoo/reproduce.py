"""`modelzoo reproduce dsn-table`: Table 1 of the DSN paper, MNIST -> MNIST-M, side by side.

Trains source_only, mmd, dann, dsn_mmd, dsn and target_only (one config per row of the paper's
table) under one protocol (the same data, step budget, seeds and `--set` overrides), then
evaluates each run the paper's way (the checkpoint that scored best on MNIST-M `valid`, tested
on MNIST-M `test`) and writes

    <out_dir>/dsn_table.md     method | paper | ours | difference (percentage points)
    <out_dir>/dsn_table.json   the same, plus every seed's accuracy, steps, minutes and run dir
    <out_dir>/runs/<config>/seed<N>/   each run dir (rerunning with the same out dir resumes them)

With several seeds, "ours" is their mean ± sample standard deviation: on the 6,000-digit sample
one seed can sit several points from another, more than some gaps between the paper's rows.

    >>> from modelzoo.reproduce import reproduce_dsn_table
    >>> table = reproduce_dsn_table(steps=200, seeds=(0, 1, 2), data_dir="~/.cache/modelzoo")
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from modelzoo import files, ui
from modelzoo.errors import UsageError

# Bousmalis et al., NIPS 2016, Table 1, MNIST -> MNIST-M mean target accuracy (%).
PAPER = {"Source-only": 56.6, "MMD": 76.9, "DANN": 77.4, "DSN w/ MMD": 80.5,
         "DSN w/ DANN": 83.2, "Target-only": 98.7}
# Paper row -> our config.
METHODS = {"Source-only": "source_only", "MMD": "mmd", "DANN": "dann", "DSN w/ MMD": "dsn_mmd",
           "DSN w/ DANN": "dsn", "Target-only": "target_only"}
SEEDS = (0,)


@dataclass
class SeedRun:
    """One training run of one method: its target test accuracy (%) and where it came from."""

    seed: int
    accuracy: float
    source_accuracy: float
    best_step: int
    steps: int
    minutes: float
    run_dir: str


@dataclass
class Row:
    method: str
    config: str
    paper: float
    runs: list[SeedRun] = field(default_factory=list)

    @property
    def ours(self) -> float | None:
        """Mean target test accuracy over the seeds, %."""
        return round(statistics.fmean(r.accuracy for r in self.runs), 1) if self.runs else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation over the seeds (None for fewer than two)."""
        if len(self.runs) < 2:
            return None
        return round(statistics.stdev(r.accuracy for r in self.runs), 1)

    @property
    def difference(self) -> float | None:
        return None if self.ours is None else round(self.ours - self.paper, 1)


def reproduce_dsn_table(steps: int | None = None, overrides: tuple[str, ...] | list[str] = (),
                        data_dir: Path | str | None = None, out_dir: Path | str | None = None,
                        seeds: tuple[int, ...] | list[int] = SEEDS,
                        methods: tuple[str, ...] | None = None) -> list[Row]:
    """Train and evaluate every configured method once per seed; print and write the table;
    return its rows.

    `methods` restricts the runs to some configs (e.g. ("source_only", "dsn")); the others keep
    their paper number and an empty "ours".
    """
    from modelzoo import paths

    seeds = list(dict.fromkeys(seeds))  # a repeated seed would only resume the same run
    if not seeds:
        raise UsageError("reproduce dsn-table needs at least one seed.", fix="--seed 0")
    out_dir = Path(out_dir) if out_dir else Path("runs") / "reproduce" / time.strftime(
        "dsn-table-%Y%m%d-%H%M%S")
    overrides = [*overrides, *([f"train.steps={steps}"] if steps else [])]
    data_root = paths.data_dir(data_dir)
    rows = []
    for method, config in METHODS.items():
        row = Row(method, config, PAPER[method])
        if methods is None or config in methods:
            for seed in seeds:
                run_dir = out_dir / "runs" / config / f"seed{seed}"
                row.runs.append(_run(row, overrides, data_root, run_dir, seed))
        rows.append(row)
    write_table(rows, out_dir, overrides, seeds)
    return rows


def _run(row: Row, overrides: list[str], data_dir: Path, run_dir: Path, seed: int) -> SeedRun:
    import keras

    from modelzoo import evaluate, training

    ui.err.print(f"reproduce | {row.method}: modelzoo train {row.config} --seed {seed} "
                 + " ".join(f"--set {o}" for o in overrides), markup=False, highlight=False)
    start = time.perf_counter()
    result = training.train(row.config, overrides=overrides, run_dir=run_dir, seed=seed,
                            data_dir=data_dir)
    minutes = round((time.perf_counter() - start) / 60, 2)
    # The paper's protocol: the checkpoint best on the 1,000 labelled target examples, tested.
    report = evaluate.evaluate(run_dir=result.run_dir, checkpoint="best", split="test",
                               data_dir=data_dir)
    keras.backend.clear_session()  # the next run starts from fresh layer names and graphs
    return SeedRun(seed=seed, accuracy=round(100 * report["accuracy"], 1),
                   source_accuracy=round(100 * report["source_accuracy"], 1),
                   best_step=report["step"], steps=result.final["step"], minutes=minutes,
                   run_dir=str(result.run_dir))


def markdown(rows: list[Row], overrides: list[str], seeds: list[int]) -> str:
    def ours(row):
        if row.ours is None:
            return "—"
        return f"{row.ours:.1f}" if row.std is None else f"{row.ours:.1f} ± {row.std:.1f}"

    def signed(value):
        return "—" if value is None else f"{value:+.1f}"

    def per_seed(row):  # "68.6 (3000)": accuracy and best step of each seed, in seed order
        return ", ".join(f"{r.accuracy:.1f} ({r.best_step})" for r in row.runs) or "—"

    lines = ["MNIST → MNIST-M target test accuracy (%), Bousmalis et al. (NIPS 2016) Table 1 "
             "vs this zoo (best checkpoint on MNIST-M `valid`).", "",
             "| method | paper | ours | difference | per seed (best step) | steps | minutes, all seeds |",
             "|---|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        steps = max((run.steps for run in r.runs), default="—")
        minutes = round(sum(run.minutes for run in r.runs), 2) if r.runs else "—"
        lines.append(f"| {r.method} | {r.paper:.1f} | {ours(r)} | {signed(r.difference)} | "
                     f"{per_seed(r)} | {steps} | {minutes} |")
    protocol = " ".join(f"--set {o}" for o in overrides) or "the configs' own budgets"
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else (
        f"seeds {', '.join(map(str, seeds))} (ours: mean ± sample standard deviation)")
    lines += ["", f"Protocol: {seed_text}; {protocol}."]
    return "\n".join(lines) + "\n"


def write_table(rows: list[Row], out_dir: Path, overrides: list[str], seeds: list[int]) -> None:
    text = markdown(rows, overrides, seeds)
    files.write_text(out_dir / "dsn_table.md", text)
    payload = {"protocol": {"seeds": seeds, "overrides": overrides},
               "rows": [{**asdict(r), "ours": r.ours, "std": r.std, "difference": r.difference}
                        for r in rows]}
    files.write_json(out_dir / "dsn_table.json", payload)
    ui.out.print(text, markup=False, highlight=False)
    ui.out.print(f"written: {out_dir / 'dsn_table.md'}, {out_dir / 'dsn_table.json'}",
                 markup=False)
