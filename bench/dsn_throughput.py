"""DSN training images/s: the engine + DSN recipe against a plain hand-written GradientTape loop.

Goal (issue 4): the engine runs DSN at >= 1.0x the images/s of the loop a researcher would write
by hand, with the same networks (modelzoo.models.dsn), losses (modelzoo.losses), optimiser and
batch (32 source + 32 target images a step, from the same tf.data pipeline), in the same process.
Rounds alternate engine / plain so a busy machine slows both alike; the median round counts.
Images/s counts both domains: 64 images a step.

    python bench/dsn_throughput.py [--steps 200] [--rounds 3] [--data-dir DIR]

Without --data-dir the 6,000-digit sample (../shared/data) is prepared into a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _table import report

REPO = Path(__file__).resolve().parents[1]
WARMUP_STEPS = 50  # traced and run before timing starts, in both loops; steps: a multiple


def prepare_sample(data_dir: Path) -> Path:
    from modelzoo import datasets

    shared = REPO.parent / "shared" / "data"
    datasets.download("mnist", data_dir, source=str(shared / "mnist"))
    datasets.download("mnist_m", data_dir, source=str(shared / "bsds500" / "train"))
    return data_dir


def dsn_config(steps: int):
    from modelzoo import config

    # Log every WARMUP_STEPS (the engine's rate between two log lines); no checkpoint or
    # evaluation inside the timed steps; the domain losses on from the start.
    return config.load("dsn", [f"train.steps={steps}", "train.eval_every=0",
                               f"train.log_every={WARMUP_STEPS}",
                               f"train.checkpoint_every={steps}", "dsn.warmup_steps=0",
                               "train.seed=0"]).config


def engine_images_per_sec(placement, data_dir: Path, steps: int) -> float:
    """Steady-state rate from the engine's own log lines (steps/s between two lines), leaving
    out the first interval, which holds the tracing."""
    from modelzoo.engine import Engine
    from modelzoo.recipes.dsn import DSN
    from modelzoo.runs import read_metrics

    cfg = dsn_config(WARMUP_STEPS + steps)
    with tempfile.TemporaryDirectory() as run_dir:
        engine = Engine(DSN(cfg, data_dir), placement, Path(run_dir))
        _quiet(engine.train)
        lines = read_metrics(Path(run_dir))
    rates = [line["steps_per_sec"] for line in lines if line["phase"] == "train"][1:]
    return 2 * cfg.train.batch_size * statistics.mean(rates)


def plain_images_per_sec(data_dir: Path, steps: int) -> float:
    """The loop by hand: same networks, losses, optimiser and data; one tf.function a step."""
    import keras
    import tensorflow as tf

    from modelzoo import losses
    from modelzoo.models.dsn import dsn_mnist
    from modelzoo.optim import build_optimizer
    from modelzoo.recipes.dsn import DSN

    cfg = dsn_config(steps)
    dsn = cfg.dsn
    nets = dsn_mnist(weight_decay=dsn.weight_decay)
    tower, dc = nets["tower"], nets["domain_classifier"]
    encoders = {0: nets["source_encoder"], 1: nets["target_encoder"]}
    decoder = nets["decoder"]
    variables = [v for n in nets.values() for v in n.trainable_variables]
    optimizer = build_optimizer(cfg.train.optimizer)
    xent = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(source, labels, target):
        with tf.GradientTape() as tape:
            codes, logits, _ = tower(tf.concat([source, target], 0), training=True)
            source_code, target_code = tf.split(codes, 2)
            loss = xent(labels, tf.split(logits, 2)[0])
            reversed_codes = losses.gradient_reversal(codes)
            domain = losses.domain_labels(tf.shape(source)[0], tf.shape(target)[0])
            loss += dsn.gamma * tf.reduce_mean(losses.dann_loss(dc(reversed_codes), domain))
            for i, (images, shared) in enumerate(((source, source_code), (target, target_code))):
                private = encoders[i](images, training=True)
                recon = decoder(shared + private, training=True)
                loss += dsn.beta * losses.difference_loss(private, shared)
                loss += dsn.alpha * tf.reduce_sum(losses.scale_invariant_mse(images, recon))
            loss += tf.add_n([tf.add_n(n.losses) for n in nets.values() if n.losses])
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    batches = iter(DSN(cfg, data_dir).train_dataset(cfg.train.batch_size, seed=0))
    for _ in range(WARMUP_STEPS):
        (source, labels), (target, _) = next(batches)
        step(source, labels, target)
    start = time.perf_counter()
    for _ in range(steps):
        (source, labels), (target, _) = next(batches)
        loss = step(source, labels, target)
    float(loss)  # wait for the last step
    return 2 * cfg.train.batch_size * steps / (time.perf_counter() - start)


def _quiet(fn):
    import contextlib
    import io

    from modelzoo import ui

    console_file = ui.err.file
    ui.err.file = io.StringIO()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return fn()
    finally:
        ui.err.file = console_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    from modelzoo import devices

    placement = devices.place("cpu", "one")
    tmp = None
    if args.data_dir is None:
        tmp = tempfile.TemporaryDirectory()
        args.data_dir = prepare_sample(Path(tmp.name))
    engine, plain = [], []
    for _ in range(args.rounds):
        engine.append(engine_images_per_sec(placement, args.data_dir, args.steps))
        plain.append(plain_images_per_sec(args.data_dir, args.steps))
    rows = [{"loop": "engine + DSN recipe", "images_per_s": statistics.median(engine),
             "rounds": " ".join(f"{v:.0f}" for v in engine)},
            {"loop": "plain GradientTape loop", "images_per_s": statistics.median(plain),
             "rounds": " ".join(f"{v:.0f}" for v in plain)}]
    ratio = rows[0]["images_per_s"] / rows[1]["images_per_s"]
    report("dsn_throughput", rows, {"engine_vs_plain": ratio, "goal": ">= 1.0",
                                    "met": ratio >= 1.0, "steps": args.steps,
                                    "images_per_step": 64})
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
