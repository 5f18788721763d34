"""What `modelzoo list` shows: models, datasets (ready or not), configs and recipes. No TF import."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from rich.table import Table

from modelzoo import config, datasets, paths, registry


def listing(kinds: tuple[str, ...], pattern: str | None, data_dir: Path | None) -> dict:
    """kind -> list of row dicts, filtered by a shell wildcard on the name."""
    tables: dict[str, list[dict]] = {}
    for kind in kinds:
        rows = _ROWS[kind](data_dir)
        tables[kind] = [r for r in rows if pattern is None or fnmatch.fnmatch(r["name"], pattern)]
    return tables


def _models(_data_dir) -> list[dict]:
    return [{"name": n, "summary": registry.MODELS[n].summary}
            for n in registry.list_names(registry.MODELS)]


def _recipes(_data_dir) -> list[dict]:
    return [{"name": n, "summary": registry.RECIPES[n].summary}
            for n in registry.list_names(registry.RECIPES)]


def _datasets(data_dir) -> list[dict]:
    root = paths.data_dir(data_dir)
    rows = []
    for name in datasets.list_datasets():
        manifest = datasets.load_manifest(name)
        rows.append({"name": name, "ready": datasets.is_ready(name, root),
                     "summary": manifest.description, "license": manifest.license,
                     "data_dir": str(root)})
    return rows


def _configs(_data_dir) -> list[dict]:
    rows = []
    for name, path in config.list_configs().items():
        try:
            loaded = config.load(str(path))
            cfg = loaded.config
            rows.append({"name": name, "recipe": cfg.recipe, "model": cfg.model.name,
                         "dataset": cfg.data.dataset, "summary": cfg.description})
        except Exception as exc:  # a broken file is listed, not fatal to the listing
            rows.append({"name": name, "recipe": "?", "model": "?", "dataset": "?",
                         "summary": f"invalid: {str(exc).splitlines()[0]}"})
    return rows


_ROWS = {"models": _models, "datasets": _datasets, "configs": _configs, "recipes": _recipes}


def render(kind: str, rows: list[dict]) -> Table:
    table = Table(title=kind, title_justify="left", show_edge=False)
    columns = [c for c in (rows[0] if rows else {"name": ""}) if c not in ("data_dir", "license")]
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[_cell(row[c]) for c in columns])
    return table


def _cell(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
