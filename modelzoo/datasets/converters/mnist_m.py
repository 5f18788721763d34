"""MNIST-M, generated as Ganin & Lempitsky (2015) made it, or read from their official release.

Generation, for every MNIST digit (train from MNIST train, test from MNIST test):

1. pick a BSDS500 training photo uniformly at random and a uniformly random 32x32 crop of it;
2. resize the 28x28 digit to 32x32 (bilinear, half-pixel centres, like `tf.image.resize`) and
   binarise it: pixels >= `threshold` (128) are "ink";
3. the digit inverts the crop: out = |crop - digit| per channel, i.e. 255 - crop on ink pixels and
   the crop elsewhere; 32x32x3 uint8.

Randomness comes from `numpy.random.default_rng([seed, split])`; photos are sorted by file name and
decoded once, so two runs give identical bytes (for the same Pillow/libjpeg). `valid` holds
`valid_examples` (1,000) examples drawn from train with `default_rng([seed, 2])`; they leave train.
Everything is vectorised: crops are gathered photo by photo from a sliding-window view, the digit
resize is two small matrix products in float64 (exact: every weight is a multiple of 1/16).

Sources (`find_source`): Ganin's official folder (`mnist_m_train/*.png`, `mnist_m_test/*.png`,
`mnist_m_{train,test}_labels.txt`; 28x28 images are resized to 32x32 bilinear), a folder of the
photos (`bsds500/train/`, `BSR/BSDS500/data/images/train/`, or any folder of JPEGs), or
`BSR_bsds500.tgz` (only `BSR/BSDS500/data/images/train/*.jpg` is read). With no `--from`, the
archive is downloaded from the manifest's mirrors.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from modelzoo import ui
from modelzoo.datasets import archive
from modelzoo.datasets.converters import (Converted, Inputs, SplitData, check_options,
                                          decode_image, option)
from modelzoo.errors import DataError

OPTIONS = {"seed", "valid_examples", "threshold", "photos_member", "photos_count",
           "photos_digest"}
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
SPLIT_CODES = {"train": 0, "test": 1, "valid": 2}


# --------------------------------------------------------------------------- sources


def photos_digest(items: list[tuple[str, bytes]]) -> tuple[str, list[dict]]:
    """sha256 over the lines "<sha256>  <file name>\\n" of the photos sorted by name."""
    rows = sorted((Path(name).name, hashlib.sha256(data).hexdigest()) for name, data in items)
    text = "".join(f"{sha}  {name}\n" for name, sha in rows)
    return hashlib.sha256(text.encode()).hexdigest(), [{"name": n, "sha256": s} for n, s in rows]


def _photo_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
                   and not p.name.startswith(".")), key=lambda p: p.name)


def _official_root(path: Path) -> Path | None:
    for root in (path, path / "mnist_m"):
        if (root / "mnist_m_train_labels.txt").is_file() and (root / "mnist_m_train").is_dir():
            return root
    return None


def _photo_folder(path: Path) -> Path | None:
    member = Path("BSR/BSDS500/data/images/train")
    for folder in (path, path / member, path / "bsds500" / "train", path / "bsds500" / member,
                   path / "bsds500", path / "train"):
        if folder.is_dir() and _photo_files(folder):
            return folder
    return None


def find_source(manifest, path: Path, data_dir: Path) -> Inputs:
    """Recognise a `--from` path for mnist_m, or raise a DataError saying what was expected."""
    from modelzoo.datasets import fetch

    official = _official_root(path) if path.is_dir() else None
    if official is not None:
        records = []
        for name in ("mnist_m_train_labels.txt", "mnist_m_test_labels.txt"):
            file = official / name
            if not file.is_file():
                raise DataError(f"--from {official}: {name} is missing from the official "
                                "MNIST-M folder.",
                                fix="Use the complete folder from Ganin's mnist_m.tar.gz.")
            records.append({"file": name, "source": str(file), "kind": "local",
                            "sha256": fetch.sha256_file(file), "checksum_matched": None,
                            "note": "official MNIST-M release; the manifest has no checksum"})
        ui.info(f"mnist_m: reading Ganin's official MNIST-M images from {official} (the manifest "
                  "has no checksum for them; recorded in provenance.json).")
        return Inputs({}, records, kind="official", extra={"root": official})

    spec = manifest.files[0]
    found = fetch.find_local(manifest, path, [spec])
    if found is None and path.is_file():
        found = {spec.filename: path}
    if found is not None and archive_like(found[spec.filename]):
        resolved = fetch.verify_local(manifest, spec, found[spec.filename])
        return Inputs({spec.filename: resolved.path}, [resolved.record()], kind="files",
                      needs=tuple(manifest.generated_from))

    folder = _photo_folder(path) if path.is_dir() else None
    if folder is not None:
        return Inputs({}, [], kind="photos", extra={"folder": folder},
                      needs=tuple(manifest.generated_from))
    raise DataError(
        f"--from {path}: found neither {spec.filename}, nor a folder of BSDS500 photos "
        f"(*.jpg in it, or in bsds500/train/ or BSR/BSDS500/data/images/train/ under it), "
        "nor Ganin's official MNIST-M folder (mnist_m_train/ + mnist_m_train_labels.txt).",
        fix=f"Point --from at one of those, e.g. `modelzoo download --dataset {manifest.name} "
            "--from ../shared/data/bsds500/train`.")


def archive_like(path: Path) -> bool:
    return path.name.endswith((".tgz", ".tar.gz", ".tar"))


def _load_photos(manifest, items: list[tuple[str, bytes]], where: str) -> list[np.ndarray]:
    height, width, _ = manifest.image_shape
    photos = []
    for name, data in sorted(items, key=lambda item: Path(item[0]).name):
        image = decode_image(data, name, where).convert("RGB")
        if image.width < width or image.height < height:
            raise DataError(f"{name} (in {where}) is {image.width}x{image.height}, smaller than "
                            f"the {width}x{height} crops MNIST-M needs.",
                            fix=f"Remove {name} from the folder; BSDS500 photos are 481x321.")
        photos.append(np.asarray(image, dtype=np.uint8))
    return photos


def _photos(manifest, inputs: Inputs) -> tuple[list[np.ndarray], dict]:
    """Decoded photos and their provenance record, from a folder or the archive."""
    expected = option(manifest, "photos_digest", str, "")
    if inputs.kind == "photos":
        folder = inputs.extra["folder"]
        items = [(str(p), p.read_bytes()) for p in _photo_files(folder)]
        where, source = f"--from {folder}", str(folder)
    else:
        spec = manifest.files[0]
        path = inputs.files[spec.filename]
        prefix = option(manifest, "photos_member", str).rstrip("/") + "/"
        items = list(archive.read_members(
            path, lambda n: n.startswith(prefix) and "/" not in n[len(prefix):]
            and n.lower().endswith(PHOTO_SUFFIXES)))
        where, source = str(path), f"{path}:{prefix}"
        if not items:
            raise DataError(f"{path} has no photos under {prefix}.",
                            fix="Use the original BSR_bsds500.tgz from Berkeley, or pass a "
                                "folder of the BSDS500 train photos to --from.")
    digest, listing = photos_digest(items)
    matched = digest == expected
    count = option(manifest, "photos_count", int, 0)
    if not matched and inputs.kind == "photos":
        ui.warn(f"{source}: the {len(items)} photos have digest {digest}, the manifest "
                  f"({manifest.where}) expects {expected} for the {count} BSDS500 train photos. "
                  "Accepted because they came through --from; recorded as unverified in "
                  "provenance.json.")
    record = {"file": "BSDS500 train photos", "source": source,
              "kind": "local" if inputs.kind == "photos" else "archive-members",
              "sha256": digest, "expected_sha256": expected or None, "count": len(items),
              "expected_count": count or None,
              "digest": "sha256 over '<sha256>  <name>\\n' lines sorted by name",
              "photos": listing}
    if inputs.kind == "photos":
        record["checksum_matched"] = matched
        if not matched:
            record["accepted_via"] = "--from"
    else:  # read from the archive, whose own checksum is recorded above
        record["checksum_matched"] = None
        record["digest_matches_manifest"] = matched
    return _load_photos(manifest, items, where), record


# --------------------------------------------------------------------------- generation


def _bilinear(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] weights of a bilinear resize with half-pixel centres."""
    src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


def ink_masks(digits: np.ndarray, size: tuple[int, int], threshold: int) -> np.ndarray:
    """bool [N, H, W]: the digits resized to `size` (bilinear) and binarised at `threshold`."""
    digits = digits.reshape(digits.shape[0], digits.shape[1], digits.shape[2])
    rows, cols = _bilinear(digits.shape[1], size[0]), _bilinear(digits.shape[2], size[1])
    out = np.empty((digits.shape[0], *size), dtype=bool)
    for lo in range(0, len(digits), 8192):
        chunk = digits[lo:lo + 8192].astype(np.float64)
        resized = rows @ (chunk @ cols.T)
        out[lo:lo + 8192] = resized >= threshold
    return out


def blend(digits: np.ndarray, photos: list[np.ndarray], rng: np.random.Generator,
          size: tuple[int, int], threshold: int) -> np.ndarray:
    """uint8 [N, H, W, 3]: each binarised digit inverting a random crop of a random photo."""
    n, (h, w) = len(digits), size
    heights = np.array([p.shape[0] for p in photos])
    widths = np.array([p.shape[1] for p in photos])
    which = rng.integers(0, len(photos), size=n)
    ys = rng.integers(0, heights[which] - h + 1)
    xs = rng.integers(0, widths[which] - w + 1)
    crops = np.empty((n, h, w, 3), dtype=np.uint8)
    for index, photo in enumerate(photos):
        rows = np.flatnonzero(which == index)
        if rows.size:
            windows = np.lib.stride_tricks.sliding_window_view(photo, (h, w, 3))
            crops[rows] = windows[ys[rows], xs[rows], 0]
    ink = ink_masks(digits, size, threshold)[..., None]
    return np.where(ink, 255 - crops, crops)


def split_valid(data: SplitData, count: int, seed: int) -> tuple[SplitData, SplitData]:
    """(train without the valid examples, valid): `count` examples drawn with a fixed seed."""
    rng = np.random.default_rng([seed, SPLIT_CODES["valid"]])
    chosen = np.zeros(len(data.labels), dtype=bool)
    chosen[rng.choice(len(data.labels), size=count, replace=False)] = True
    return (SplitData(data.images[~chosen], data.labels[~chosen]),
            SplitData(data.images[chosen], data.labels[chosen]))


def _valid_count(manifest, train_size: int) -> int:
    wanted = option(manifest, "valid_examples", int, 1000)
    if train_size >= 2 * wanted:
        return wanted
    count = max(1, train_size // 6)
    ui.warn(f"mnist_m: only {train_size} training digits; the valid split gets {count} "
              f"examples instead of {wanted}.")
    return count


# --------------------------------------------------------------------------- official release


def _read_official(manifest, root: Path, split: str) -> SplitData:
    from PIL import Image

    height, width, _ = manifest.image_shape
    labels_file = root / f"mnist_m_{split}_labels.txt"
    folder = root / f"mnist_m_{split}"
    images, labels = [], []
    for number, line in enumerate(labels_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise DataError(f"{labels_file}, line {number}: expected '<file.png> <label>', got "
                            f"{line!r}.", fix="Use the labels file from Ganin's release.")
        label = int(parts[1])
        if label >= manifest.num_classes:
            raise DataError(f"{labels_file}, line {number}: label {label} is not below "
                            f"{manifest.num_classes}.",
                            fix="Use the labels file from Ganin's release.")
        path = folder / parts[0]
        if not path.is_file():
            raise DataError(f"{path} (listed in {labels_file}, line {number}) is missing.",
                            fix="Use the complete folder from Ganin's mnist_m.tar.gz.")
        image = decode_image(path.read_bytes(), str(path), f"--from {root}").convert("RGB")
        if image.size != (width, height):
            if image.size != (28, 28):
                raise DataError(f"{path} is {image.width}x{image.height}; official MNIST-M "
                                f"images are 28x28 (or {width}x{height}).",
                                fix=f"Remove {path} or use Ganin's original files.")
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        images.append(np.asarray(image, dtype=np.uint8))
        labels.append(label)
    if not images:
        raise DataError(f"{labels_file} lists no images.", fix="Use Ganin's original files.")
    return SplitData(np.stack(images), np.array(labels, dtype=np.int64))


# --------------------------------------------------------------------------- convert


def convert(manifest, inputs: Inputs, ctx) -> Converted:
    import time

    check_options(manifest, OPTIONS)
    seed = option(manifest, "seed", int, 0)
    threshold = option(manifest, "threshold", int, 128)
    height, width, _ = manifest.image_shape
    names = list(manifest.class_names) if manifest.class_names else None

    if inputs.kind == "official":
        root = inputs.extra["root"]
        train = _read_official(manifest, root, "train")
        test = _read_official(manifest, root, "test")
        train, valid = split_valid(train, _valid_count(manifest, len(train.labels)), seed)
        return Converted({"train": train, "valid": valid, "test": test}, names,
                         {"generator": "official MNIST-M release", "seed": seed})

    from modelzoo.datasets import records, store

    base = manifest.generated_from[0] if manifest.generated_from else "mnist"
    base_dir = store.dataset_dir(ctx.data_dir, base)
    base_info = store.read_json(base_dir / store.INFO)
    digits = {split: records.read_split(base_dir, base_info, split) for split in ("train", "test")}
    started = time.perf_counter()  # generation proper: hash + decode photos, blend, split
    photos, photo_record = _photos(manifest, inputs)
    inputs.records.append(photo_record)
    out = {}
    for split in ("train", "test"):
        rng = np.random.default_rng([seed, SPLIT_CODES[split]])
        images = blend(digits[split].images, photos, rng, (height, width), threshold)
        out[split] = SplitData(images, digits[split].labels)
    out["train"], out["valid"] = split_valid(out["train"],
                                             _valid_count(manifest, len(out["train"].labels)),
                                             seed)
    elapsed = time.perf_counter() - started
    base_prov = {}
    try:
        base_prov = store.read_json(base_dir / store.PROVENANCE)
    except DataError:
        pass
    ui.info(f"mnist_m: generated {sum(len(s.labels) for s in out.values()):,} images from "
              f"{len(photos)} photos in {elapsed:.1f} s")
    return Converted(
        {"train": out["train"], "valid": out["valid"], "test": out["test"]}, names,
        {"generator": "mnist_m (Ganin & Lempitsky 2015): |crop - binarised digit|",
         "seed": seed, "threshold": threshold, "photos": len(photos),
         "generation_seconds": round(elapsed, 2),
         "derived_from": {base: {"files": base_prov.get("files", []),
                                 "splits": {k: v["examples"]
                                            for k, v in base_info["splits"].items()}}}})
