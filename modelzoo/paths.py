"""Where modelzoo finds its configs and dataset manifests, and where it keeps data and runs."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _bundled(in_wheel: str, in_checkout: str) -> Path:
    # A wheel packs the folders inside modelzoo/ (see pyproject's force-include); in a source
    # checkout (editable install) they sit at the repository root, beside the package.
    inside = PACKAGE_DIR / in_wheel
    return inside if inside.is_dir() else PACKAGE_DIR.parent / in_checkout


def configs_dir() -> Path:
    return _bundled("configs", "configs")


def manifests_dir() -> Path:
    """Dataset manifests; `$MODELZOO_MANIFESTS_DIR` replaces them (tests point it at fakes)."""
    override = os.environ.get("MODELZOO_MANIFESTS_DIR")
    return Path(override) if override else _bundled("datasets_manifests", "datasets")


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """`--data-dir`, else `$MODELZOO_DATA_DIR`, else `~/.cache/modelzoo`."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("MODELZOO_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return Path("~/.cache/modelzoo").expanduser().resolve()
