#!/usr/bin/env bash
# The main job end to end, as a user would type it (`make demo`):
#   prepare mnist and mnist_m, train ShallowNet and DSN briefly, evaluate both.
# DATA_FROM=DIR: a local folder laid out like ../shared/data (mnist/, bsds500/) for offline use.
set -euo pipefail

DEMO_DIR=${DEMO_DIR:-.demo}
DEMO_STEPS=${DEMO_STEPS:-300}
export MODELZOO_DATA_DIR=${MODELZOO_DATA_DIR:-$DEMO_DIR/data}
from_mnist=() from_bsds=()
if [[ -n "${DATA_FROM:-}" ]]; then
  from_mnist=(--from "$DATA_FROM/mnist")
  from_bsds=(--from "$DATA_FROM/bsds500")
fi

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "prepare MNIST" modelzoo download --dataset mnist "${from_mnist[@]}"
step "prepare MNIST-M" modelzoo download --dataset mnist_m "${from_bsds[@]}"
step "datasets" modelzoo list datasets

step "train ShallowNet" modelzoo train shallownet --run-dir "$DEMO_DIR/runs/shallownet" \
  --set train.steps="$DEMO_STEPS" --seed 0
step "evaluate ShallowNet (gate: accuracy >= 0.85)" modelzoo eval \
  --run-dir "$DEMO_DIR/runs/shallownet" --json "$DEMO_DIR/shallownet_eval.json" \
  --fail-under accuracy=0.85

step "train DSN (MNIST -> MNIST-M)" modelzoo train dsn --run-dir "$DEMO_DIR/runs/dsn" \
  --set train.steps="$DEMO_STEPS" --seed 0
step "evaluate DSN on MNIST-M test" modelzoo eval --run-dir "$DEMO_DIR/runs/dsn" \
  --json "$DEMO_DIR/dsn_eval.json"

printf '\ndemo finished: run dirs under %s/runs, eval JSON in %s\n' "$DEMO_DIR" "$DEMO_DIR"
