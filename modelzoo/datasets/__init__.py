"""Datasets: manifests (`datasets/*.yaml`), `download` (fetch, verify, convert, cache), and facts
about prepared datasets. Importing this package never imports TensorFlow; only converting does.

    >>> from modelzoo import datasets
    >>> datasets.list_datasets()
    ['cifar10', 'flowers', 'mnist', 'mnist_m']
    >>> path = datasets.download("mnist", data_dir, source="../shared/data/mnist")  # doctest: +SKIP

Prepared datasets are TFRecord shards of raw uint8 pixels (see `records` for why), read with
`modelzoo.data.pipeline`.
"""

from __future__ import annotations

from pathlib import Path

from modelzoo.datasets import store
from modelzoo.datasets.manifest import FileSpec, Manifest, list_datasets, load_manifest

__all__ = ["FileSpec", "Manifest", "dataset_info", "download", "is_ready", "list_datasets",
           "load_manifest", "outdated_bases"]


def is_ready(name: str, data_dir: Path) -> bool:
    """Whether `<data_dir>/<name>` is completely prepared (a marker check; no TF, milliseconds)."""
    return store.is_ready(Path(data_dir), name)


def outdated_bases(name: str, data_dir: Path) -> list[str]:
    """The datasets `name` was generated from that have been prepared again, from other files,
    since (mnist for an mnist_m blended from earlier digits); no TF, milliseconds."""
    return store.outdated_bases(Path(data_dir), name)


def download(name: str, data_dir: Path, source: str | None = None, force: bool = False) -> Path:
    """Prepare dataset `name` in `data_dir` and return its folder.

    `source` is a `--from` value: a local folder (or archive) holding the upstream files, or the
    base URL of a mirror. Without it the manifest's mirrors are tried in order. A ready dataset is
    a no-op unless `force`, or unless a dataset it was generated from (mnist for mnist_m) has
    been prepared again since: then it is rebuilt from the current one. Those datasets are
    prepared first, from the same `source` when it holds their files.
    """
    ready = is_ready(name, data_dir)
    outdated = outdated_bases(name, data_dir) if ready else []
    if outdated:
        from modelzoo import ui

        ui.info(f"{name} was made from an earlier {', '.join(outdated)} (prepared again since): "
                f"rebuilding {name} from the current one.")
        force = True
    if not force and ready:
        load_manifest(name)  # an unknown name is still an error
        target = store.dataset_dir(Path(data_dir).expanduser().resolve(), name)
        if source:
            from modelzoo import ui

            ui.info(f"{name} is already prepared in {target}; --from is not used "
                      "(add --force to rebuild it from there).")
        return target
    from modelzoo.datasets.prepare import download as _download

    return _download(name, Path(data_dir), source=source, force=force)


def dataset_info(name: str, data_dir: Path) -> dict:
    """Splits (name -> examples), image_shape, num_classes, class_names; from the prepared
    dataset when it is ready (`ready: True`), else from the manifest (published counts)."""
    manifest = load_manifest(name)
    folder = store.dataset_dir(Path(data_dir), name)
    if store.is_ready(Path(data_dir), name):
        info = store.read_json(folder / store.INFO)
        return {"name": name, "ready": True, "path": str(folder),
                "splits": {s: v["examples"] for s, v in info["splits"].items()},
                "image_shape": list(info["image_shape"]), "num_classes": info["num_classes"],
                "class_names": info.get("class_names")}
    return {"name": name, "ready": False, "path": str(folder), "splits": dict(manifest.splits),
            "image_shape": list(manifest.image_shape), "num_classes": manifest.num_classes,
            "class_names": list(manifest.class_names) if manifest.class_names else None}
