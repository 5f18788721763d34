"""Images/s of `modelzoo train shallownet` (the engine) against a plain Keras `model.fit` script
on the same model, data pipeline, optimizer and batch size, measured in the same run.

    python bench/train_throughput.py [--steps 1500] [--repeats 2] [--data-dir DIR]

Each measurement is a fresh process; the first log interval (tracing, cache filling) is dropped,
and each variant runs `--repeats` times interleaved, reporting the median. Writes
.bench/train_throughput.json. Needs MNIST prepared (it runs `modelzoo download --dataset mnist
--from ../shared/data/mnist` when the sample is there and the dataset is not ready).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _table import report

from modelzoo.runs import read_metrics

REPO = Path(__file__).resolve().parents[1]
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2"}

KERAS_FIT = r"""
import json, sys, time
import keras
from modelzoo import config, data
from modelzoo.optim import build_optimizer
from modelzoo.registry import create_model

steps, interval, data_dir, jit = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
cfg = config.load("shallownet").config
batch = cfg.train.batch_size
keras.utils.set_random_seed(0)
ds = data.pipeline("mnist", "train", data_dir, batch_size=batch, image_size=(28, 28), channels=1,
                   shuffle=True, seed=0, repeat=True, drop_remainder=True)
model = create_model("shallownet", input_shape=(28, 28, 1), num_classes=10)
model.compile(build_optimizer(cfg.train.optimizer), keras.losses.SparseCategoricalCrossentropy(),
              metrics=["accuracy"], jit_compile={"auto": "auto", "off": False}[jit])

class Clock(keras.callbacks.Callback):
    rates = []
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        self.rates.append(interval * batch / (time.perf_counter() - self.start))

model.fit(ds, steps_per_epoch=interval, epochs=steps // interval, verbose=0, callbacks=[Clock()])
print(json.dumps({"images_per_sec": Clock.rates[1:]}))
"""


def ensure_mnist(data_dir: Path) -> None:
    sys.path.insert(0, str(REPO))
    from modelzoo import datasets

    if datasets.is_ready("mnist", data_dir):
        return
    sample = REPO.parent / "shared" / "data" / "mnist"
    if not sample.is_dir():
        sys.exit(f"MNIST is not prepared in {data_dir}: run modelzoo download --dataset mnist")
    datasets.download("mnist", data_dir, source=str(sample))


def engine_rate(steps: int, interval: int, data_dir: Path, jit: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        command = [sys.executable, "-m", "modelzoo", "train", "shallownet", "--seed", "0",
                   "--device", "cpu", "--run-dir", str(run_dir), "--data-dir", str(data_dir),
                   "--set", f"train.steps={steps}", "--set", f"train.log_every={interval}",
                   "--set", f"train.checkpoint_every={steps}", "--set", f"train.jit_compile={jit}"]
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, **QUIET})
        rates = [r["images_per_sec"] for r in read_metrics(run_dir) if r["phase"] == "train"][1:]
        return statistics.mean(rates)


def keras_rate(steps: int, interval: int, data_dir: Path, jit: str) -> float:
    result = subprocess.run([sys.executable, "-c", KERAS_FIT, str(steps), str(interval),
                             str(data_dir), jit], check=True, capture_output=True, text=True,
                            env={**os.environ, **QUIET, "CUDA_VISIBLE_DEVICES": "-1"})
    return statistics.mean(json.loads(result.stdout.strip().splitlines()[-1])["images_per_sec"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--interval", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from modelzoo import paths

    data_dir = paths.data_dir(args.data_dir)
    ensure_mnist(data_dir)
    variants = {
        # Keras' default jit_compile="auto" means XLA on TensorFlow; the engine's default is off.
        "keras model.fit": lambda: keras_rate(args.steps, args.interval, data_dir, "auto"),
        "keras model.fit (jit_compile=False)": lambda: keras_rate(args.steps, args.interval,
                                                                  data_dir, "off"),
        "modelzoo train": lambda: engine_rate(args.steps, args.interval, data_dir, jit=False),
        "modelzoo train (jit_compile)": lambda: engine_rate(args.steps, args.interval, data_dir,
                                                            jit=True),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):  # interleaved, so a busy moment hurts every variant alike
        for name, measure in variants.items():
            samples[name].append(measure())
    baseline = statistics.median(samples["keras model.fit"])
    rows = [{"variant": name, "images_per_sec": round(statistics.median(values), 1),
             "ratio_vs_fit": round(statistics.median(values) / baseline, 3),
             "samples": " ".join(f"{v:.0f}" for v in values)} for name, values in samples.items()]
    print(f"ShallowNet on the MNIST sample, batch 64, {args.steps} steps, {os.cpu_count()} CPUs, "
          f"median of {args.repeats} interleaved runs:")
    engine = next(r for r in rows if r["variant"] == "modelzoo train")
    no_xla = next(r for r in rows if r["variant"] == "keras model.fit (jit_compile=False)")
    report("train_throughput", rows, {"engine_vs_fit": engine["ratio_vs_fit"],
                                      "engine_vs_fit_without_xla": round(
                                          engine["images_per_sec"] / no_xla["images_per_sec"], 3),
                                      "steps": args.steps, "cpus": os.cpu_count()})

if __name__ == "__main__":
    main()
