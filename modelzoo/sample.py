"""Pictures of a generator's samples: grid PNGs, the training GIF, and `modelzoo sample`.

    from modelzoo.sample import sample
    sample("runs/dcgan/20260101-120000", num=64, seed=0)   # -> runs/.../sample_seed0_n64.png

Images come in as generator outputs in [-1, 1] and are written as 8-bit grey (or RGB) PNGs,
scaled up `SCALE` times (nearest neighbour) so 28×28 digits are readable without zooming.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modelzoo.files import replacing

SCALE = 3  # each 28×28 digit becomes 84×84 pixels
GAP = 2  # pixels between and around the images
GAP_VALUE = 255  # white lines, as the tutorial's matplotlib grid
GIF_FRAME_MS = 300
GIF_LAST_FRAME_MS = 2000  # hold the final grid, as the tutorial repeats its last frame


def grid_shape(count: int, columns: int | None = None) -> tuple[int, int]:
    """(rows, columns) of a grid for `count` images: square-ish unless `columns` is given."""
    columns = columns or math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


def grid_pixels(height: int, width: int, rows: int, columns: int, scale: int = SCALE):
    """(width, height) in pixels of a grid of `rows`×`columns` images of `height`×`width`."""
    return (columns * (width * scale + GAP) + GAP, rows * (height * scale + GAP) + GAP)


def to_uint8(images: np.ndarray, value_range: Sequence[float] = (-1.0, 1.0)) -> np.ndarray:
    """Images in `value_range` -> uint8 in [0, 255] (the tutorial's x·127.5 + 127.5 for [-1, 1])."""
    low, high = value_range
    scaled = (np.asarray(images, np.float32) - low) / (high - low) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def grid_image(images: np.ndarray, columns: int | None = None, scale: int = SCALE):
    """A PIL image tiling `images` [n, h, w, c] (values in [-1, 1]) in rows of `columns`."""
    from PIL import Image

    pixels = to_uint8(images)
    count, height, width, channels = pixels.shape
    rows, columns = grid_shape(count, columns)
    canvas = np.full((*reversed(grid_pixels(height, width, rows, columns, scale)), channels),
                     GAP_VALUE, np.uint8)
    for index, image in enumerate(pixels):
        row, column = divmod(index, columns)
        top, left = GAP + row * (height * scale + GAP), GAP + column * (width * scale + GAP)
        big = image.repeat(scale, axis=0).repeat(scale, axis=1)
        canvas[top:top + height * scale, left:left + width * scale] = big
    return Image.fromarray(canvas[..., 0] if channels == 1 else canvas)


def write_grid(images: np.ndarray, path: Path, columns: int | None = None) -> Path:
    """Write `images` (in [-1, 1]) as one grid PNG at `path`; parent folders are created."""
    with replacing(path) as tmp:
        grid_image(images, columns).save(tmp)
    return Path(path)


def write_gif(frames: Sequence[Path], path: Path) -> Path:
    """An animated GIF of the PNG `frames` in order, looping, the last frame held longer."""
    from PIL import Image

    images = [Image.open(frame).convert("L") for frame in frames]
    durations = [GIF_FRAME_MS] * (len(images) - 1) + [GIF_LAST_FRAME_MS]
    with replacing(path) as tmp:
        images[0].save(tmp, save_all=True, append_images=images[1:], duration=durations,
                       loop=0)
    return Path(path)


def sample(run_dir: str | Path, num: int = 64, seed: int = 0, out: str | Path | None = None,
           checkpoint: str | Path | None = None) -> Path:
    """Write a grid PNG of `num` new samples from a run's newest (or the given) generator.

    The noise is drawn from `seed`, so the same seed and checkpoint give the same picture.
    Returns the PNG's path: `out`, or `<run_dir>/sample_seed<seed>_n<num>.png`.
    """
    from modelzoo.errors import UsageError

    if num < 1:
        raise UsageError(f"--num must be at least 1, got {num}.", fix="--num 64")
    run_dir = Path(run_dir)
    recipe = _restore_generator_recipe(run_dir, checkpoint)
    images = recipe.sampler(recipe.fixed_noise(num, seed=seed), training=False)
    target = Path(out) if out else run_dir / f"sample_seed{seed}_n{num}.png"
    return write_grid(images.numpy(), target)


def _restore_generator_recipe(run_dir: Path, checkpoint: str | Path | None):
    """The run's DCGAN recipe with the checkpoint (default: the newest) restored."""
    from modelzoo import runs
    from modelzoo.errors import UsageError
    from modelzoo.evaluate import open_session

    cfg = runs.read_config(run_dir)
    if cfg.recipe != "dcgan":
        raise UsageError(f"{run_dir} is a {cfg.recipe!r} run; `sample` needs a generator "
                         "(a dcgan run).", fix="modelzoo sample --run-dir runs/dcgan/<time>")
    if checkpoint is None and not runs.has_checkpoints(run_dir):
        raise UsageError(f"{run_dir} has no checkpoint yet.", fix=f"modelzoo train {cfg.name}")
    return open_session(run_dir, None if checkpoint is None else str(checkpoint), None).recipe
