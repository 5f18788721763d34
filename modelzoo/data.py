"""tf.data input pipelines over prepared datasets (`modelzoo download` makes them).

    ds = pipeline("mnist", "train", data_dir, batch_size=128, shuffle=True, seed=0, repeat=True)
    images, labels = next(iter(ds))    # float32 [128, 28, 28, 1] in [0, 1], int64 [128]

    # DSN on MNIST: 32x32x3 in [-1, 1] (gray tiled to RGB, bilinear resize after the float cast)
    ds = pipeline("mnist", "train", data_dir, batch_size=32, image_size=(32, 32), channels=3,
                  value_range=(-1.0, 1.0))

Order: read TFRecords -> decode to uint8 (1,024 records per vectorised parse) -> cache -> unbatch
-> shuffle (seeded) -> repeat -> batch -> convert to what the model asks (float32, channels, size,
value range; vectorised per batch) -> prefetch(AUTOTUNE). The cache holds uint8 images, 4x
smaller than float32, and the conversion is the same per image whether done per example or per
batch. Reading order is deterministic; with a `seed`, so is the shuffle (reshuffled each epoch,
reproducibly).
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from modelzoo import paths
from modelzoo.datasets import load_manifest, store
from modelzoo.datasets.records import PARSE_BATCH, parse_batch_fn
from modelzoo.errors import DataError, UsageError, unknown_name

SHUFFLE_BUFFER_MAX = 100_000


def _info(dataset: str, data_dir: Path) -> tuple[Path, dict]:
    load_manifest(dataset)  # UnknownNameError with suggestions for a bad name
    data_dir = Path(data_dir).expanduser().resolve()
    folder = store.dataset_dir(data_dir, dataset)
    if not store.is_ready(data_dir, dataset):
        command = f"modelzoo download --dataset {dataset}"
        if data_dir != paths.data_dir():
            command += f" --data-dir {data_dir}"
        raise DataError(f"Dataset {dataset!r} is not prepared in {data_dir}.", fix=command)
    return folder, store.read_json(folder / store.INFO)


def _split(dataset: str, split: str, info: dict) -> dict:
    if split not in info["splits"]:
        raise unknown_name(f"split of {dataset}", split, info["splits"],
                           f"modelzoo list datasets   (splits of {dataset}: "
                           f"{', '.join(info['splits'])})")
    return info["splits"][split]


def num_examples(dataset: str, split: str, data_dir: Path) -> int:
    """Examples in a prepared split (from its info.json; no reading of records)."""
    _, info = _info(dataset, data_dir)
    return int(_split(dataset, split, info)["examples"])


def convert_images(images: tf.Tensor, *, image_size: tuple[int, int] | None,
                   channels: int | None, value_range: tuple[float, float]) -> tf.Tensor:
    """uint8 [..., H, W, C] -> float32 in `value_range`, with `channels` and `image_size`."""
    x = tf.cast(images, tf.float32) / 255.0
    have = x.shape[-1]
    if channels is not None and channels != have:
        if have == 1 and channels == 3:
            x = tf.tile(x, [1] * (x.shape.rank - 1) + [3])
        elif have == 3 and channels == 1:
            x = tf.image.rgb_to_grayscale(x)
        else:
            raise UsageError(f"Cannot convert {have}-channel images to {channels} channels.",
                             fix="Ask for 1 or 3 channels.")
    if image_size is not None and tuple(image_size) != tuple(x.shape[-3:-1]):
        x = tf.image.resize(x, list(image_size), method="bilinear")
    low, high = float(value_range[0]), float(value_range[1])
    if (low, high) != (0.0, 1.0):
        x = x * (high - low) + low
    return x


def pipeline(dataset: str, split: str, data_dir: Path, *, batch_size: int,
             image_size: tuple[int, int] | None = None, channels: int | None = None,
             value_range: tuple[float, float] = (0.0, 1.0), shuffle: bool = False,
             seed: int | None = None, repeat: bool = False, cache: bool = True,
             drop_remainder: bool = False) -> tf.data.Dataset:
    """Batches of (image float32 [B, H, W, C], label int64 [B]) from a prepared split."""
    if batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}.")
    if image_size is not None and (len(image_size) != 2 or min(image_size) < 1):
        raise UsageError(f"image_size must be (height, width), got {image_size!r}.")
    if channels not in (None, 1, 3):
        raise UsageError(f"channels must be 1 or 3, got {channels!r}.")
    if not float(value_range[0]) < float(value_range[1]):
        raise UsageError(f"value_range must be (low, high) with low < high, got {value_range!r}.")
    folder, info = _info(dataset, data_dir)
    meta = _split(dataset, split, info)
    files = [str(folder / shard) for shard in meta["shards"]]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise DataError(f"{dataset}/{split}: shard {missing[0]} is missing.",
                        fix=f"modelzoo download --dataset {dataset} --force"
                            + (f" --data-dir {Path(data_dir).resolve()}"
                               if Path(data_dir).resolve() != paths.data_dir() else ""))

    # Decode a batch of records at a time (vectorised), cache the uint8 batches, then unbatch.
    ds = tf.data.TFRecordDataset(files).batch(PARSE_BATCH)
    ds = ds.map(parse_batch_fn(info["image_shape"]), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
    if cache:
        ds = ds.cache()
    ds = ds.unbatch()
    if shuffle:
        buffer = max(1, min(int(meta["examples"]), SHUFFLE_BUFFER_MAX))
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    def to_model(images, labels):
        return convert_images(images, image_size=image_size, channels=channels,
                              value_range=value_range), labels

    ds = ds.map(to_model, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
