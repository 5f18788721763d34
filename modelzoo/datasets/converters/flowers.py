"""Flowers (`flower_photos.tgz`): one folder of JPEGs per class, resized to a fixed size.

Each photo is centre-cropped to the manifest's aspect ratio and resized to `image_shape`
(128x128, bilinear, `PIL.ImageOps.fit`). Upstream has no splits: within each class, sorted by
file name, every `test_every`-th photo (the 1st, 11th, 21st, ...) is `test`, the rest `train`.
Classes are the sub-folder names, sorted; they must match the manifest's `class_names`.

Options: `root` (folder inside the archive), `test_every`.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from modelzoo.datasets import archive
from modelzoo.datasets.converters import (Converted, SplitData, check_options, decode_image,
                                          option)
from modelzoo.errors import DataError

SUFFIXES = (".jpg", ".jpeg", ".png")


def convert(manifest, inputs, ctx) -> Converted:
    from PIL import Image, ImageOps

    check_options(manifest, {"root", "test_every"})
    root = option(manifest, "root", str).rstrip("/") + "/"
    test_every = option(manifest, "test_every", int, 10)
    height, width, _ = manifest.image_shape
    path = inputs.files[manifest.files[0].filename]

    def wanted(name: str) -> bool:
        rest = name[len(root):] if name.startswith(root) else ""
        return rest.count("/") == 1 and rest.lower().endswith(SUFFIXES)

    by_class: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for name, data in archive.read_members(path, wanted):
        by_class[name[len(root):].split("/")[0]].append((name, data))
    classes = sorted(by_class)
    if manifest.class_names and classes != list(manifest.class_names):
        raise DataError(f"{path}: class folders under {root} are {classes}, the manifest "
                        f"({manifest.where}) expects {list(manifest.class_names)}.",
                        fix="Use the original flower_photos.tgz.")
    splits = {"train": ([], []), "test": ([], [])}
    for label, cls in enumerate(classes):
        for index, (name, data) in enumerate(sorted(by_class[cls])):
            image = decode_image(data, name, str(path)).convert("RGB")
            image = ImageOps.fit(image, (width, height), method=Image.Resampling.BILINEAR)
            images, labels = splits["test" if index % test_every == 0 else "train"]
            images.append(np.asarray(image, dtype=np.uint8))
            labels.append(label)
    out = {}
    for split, (images, labels) in splits.items():
        if images:
            out[split] = SplitData(np.stack(images), np.array(labels, dtype=np.int64))
    if not out:
        raise DataError(f"{path} holds no photos under {root}.",
                        fix="Use the original flower_photos.tgz.")
    return Converted(out, classes, {"resize": f"ImageOps.fit to {width}x{height}, bilinear",
                                    "test_every": test_every})
