"""`modelzoo reproduce dsn-table`: Table 1 of the DSN paper, MNIST -> MNIST-M, side by side.

Trains source_only, mmd, dann, dsn_mmd, dsn and target_only (one config per row of the paper's
table) under one protocol (the same data, step budget, seed and `--set` overrides), then
evaluates each run the paper's way (the checkpoint that scored best on MNIST-M `valid`, tested
on MNIST-M `test`) and writes

    <out_dir>/dsn_table.md     method | paper | ours | difference (percentage points)
    <out_dir>/dsn_table.json   the same, plus steps, minutes, source accuracy and run dirs
    <out_dir>/runs/<config>/   each run dir (rerunning with the same out dir resumes them)

    >>> from modelzoo.reproduce import reproduce_dsn_table
    >>> table = reproduce_dsn_table(steps=200, data_dir="~/.cache/modelzoo")
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from modelzoo import ui

# Bousmalis et al., NIPS 2016, Table 1, MNIST -> MNIST-M mean target accuracy (%).
PAPER = {"Source-only": 56.6, "MMD": 76.9, "DANN": 77.4, "DSN w/ MMD": 80.5,
         "DSN w/ DANN": 83.2, "Target-only": 98.7}
# Paper row -> our config.
METHODS = {"Source-only": "source_only", "MMD": "mmd", "DANN": "dann", "DSN w/ MMD": "dsn_mmd",
           "DSN w/ DANN": "dsn", "Target-only": "target_only"}
SEED = 0


@dataclass
class Row:
    method: str
    config: str
    paper: float
    ours: float | None = None  # target test accuracy, %
    source_accuracy: float | None = None
    best_step: int | None = None
    steps: int | None = None
    minutes: float | None = None
    run_dir: str | None = None

    @property
    def difference(self) -> float | None:
        return None if self.ours is None else round(self.ours - self.paper, 1)


def reproduce_dsn_table(steps: int | None = None, overrides: tuple[str, ...] | list[str] = (),
                        data_dir: Path | str | None = None, out_dir: Path | str | None = None,
                        seed: int = SEED, methods: tuple[str, ...] | None = None) -> list[Row]:
    """Train and evaluate every configured method; print and write the table; return its rows.

    `methods` restricts the runs to some configs (e.g. ("source_only", "dsn")); the others keep
    their paper number and an empty "ours".
    """
    from modelzoo import paths

    out_dir = Path(out_dir) if out_dir else Path("runs") / "reproduce" / time.strftime(
        "dsn-table-%Y%m%d-%H%M%S")
    overrides = [*overrides, *([f"train.steps={steps}"] if steps else [])]
    data_root = paths.data_dir(data_dir)
    rows = []
    for method, config in METHODS.items():
        row = Row(method, config, PAPER[method])
        if methods is None or config in methods:
            _run(row, overrides, data_root, out_dir / "runs" / config, seed)
        rows.append(row)
    write_table(rows, out_dir, overrides, seed)
    return rows


def _run(row: Row, overrides: list[str], data_dir: Path, run_dir: Path, seed: int) -> None:
    import keras

    from modelzoo import evaluate, training

    ui.err.print(f"reproduce | {row.method}: modelzoo train {row.config} "
                 + " ".join(f"--set {o}" for o in overrides), markup=False, highlight=False)
    start = time.perf_counter()
    result = training.train(row.config, overrides=overrides, run_dir=run_dir, seed=seed,
                            data_dir=data_dir)
    row.minutes = round((time.perf_counter() - start) / 60, 2)
    # The paper's protocol: the checkpoint best on the 1,000 labelled target examples, tested.
    report = evaluate.evaluate(run_dir=result.run_dir, checkpoint="best", split="test",
                               data_dir=data_dir)
    row.ours = round(100 * report["accuracy"], 1)
    row.source_accuracy = round(100 * report["source_accuracy"], 1)
    row.best_step, row.steps = report["step"], result.final["step"]
    row.run_dir = str(result.run_dir)
    keras.backend.clear_session()  # the next method starts from fresh layer names and graphs


def markdown(rows: list[Row], overrides: list[str], seed: int) -> str:
    def pct(value):
        return "—" if value is None else f"{value:.1f}"

    def signed(value):
        return "—" if value is None else f"{value:+.1f}"

    lines = ["MNIST → MNIST-M target test accuracy (%), Bousmalis et al. (NIPS 2016) Table 1 "
             "vs this zoo (best checkpoint on MNIST-M `valid`).", "",
             "| method | paper | ours | difference | steps | best step | minutes |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.method} | {r.paper:.1f} | {pct(r.ours)} | {signed(r.difference)} | "
                     f"{r.steps or '—'} | {r.best_step or '—'} | {r.minutes or '—'} |")
    protocol = " ".join(f"--set {o}" for o in overrides) or "the configs' own budgets"
    lines += ["", f"Protocol: seed {seed}; {protocol}."]
    return "\n".join(lines) + "\n"


def write_table(rows: list[Row], out_dir: Path, overrides: list[str], seed: int) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(rows, overrides, seed)
    (out_dir / "dsn_table.md").write_text(text, encoding="utf-8")
    payload = {"protocol": {"seed": seed, "overrides": overrides},
               "rows": [{**asdict(r), "difference": r.difference} for r in rows]}
    (out_dir / "dsn_table.json").write_text(json.dumps(payload, indent=2) + "\n",
                                            encoding="utf-8")
    ui.out.print(text, markup=False, highlight=False)
    ui.out.print(f"written: {out_dir / 'dsn_table.md'}, {out_dir / 'dsn_table.json'}",
                 markup=False)
