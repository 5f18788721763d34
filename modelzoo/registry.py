"""Names -> code, for models and recipes, resolved only when used.

Entries are import strings so that `modelzoo --help` and `modelzoo list` never import TensorFlow;
a new model is one line here plus its file under `modelzoo/models/`.
"""

from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass
from typing import Any

from modelzoo.errors import unknown_name


@dataclass(frozen=True)
class Entry:
    target: str  # "package.module:attribute"
    summary: str

    def load(self) -> Any:
        module, attr = self.target.split(":")
        return getattr(importlib.import_module(module), attr)


MODELS: dict[str, Entry] = {
    "shallownet": Entry("modelzoo.models.shallownet:shallownet",
                        "ShallowNet: conv32 -> dense, built with keras.Sequential"),
    "minigooglenet": Entry("modelzoo.models.minigooglenet:minigooglenet",
                           "MiniGoogLeNet: inception modules, built with the functional API"),
    "minivggnet": Entry("modelzoo.models.minivggnet:minivggnet",
                        "MiniVGGNet: two conv blocks, built as a keras.Model subclass"),
    "dsn_mnist": Entry("modelzoo.models.dsn:dsn_mnist",
                       "Domain Separation Networks for MNIST->MNIST-M (tower, encoders, decoder)"),
    "dcgan_mnist": Entry("modelzoo.models.dcgan:dcgan_mnist",
                         "DCGAN generator + discriminator for 28x28 MNIST (TF tutorial)"),
}

RECIPES: dict[str, Entry] = {
    "classifier": Entry("modelzoo.recipes.classifier:Classifier",
                        "supervised classification with cross-entropy"),
    "dsn": Entry("modelzoo.recipes.dsn:DSN", "unsupervised domain adaptation (DSN, DANN, MMD)"),
    "dcgan": Entry("modelzoo.recipes.dcgan:DCGAN", "adversarial image generation"),
}


def list_names(table: dict[str, Entry], pattern: str | None = None) -> list[str]:
    """Sorted names, optionally filtered by a shell wildcard (`mini*`)."""
    return sorted(n for n in table if pattern is None or fnmatch.fnmatch(n, pattern))


def create_model(name: str, **kwargs: Any) -> Any:
    """Build the registered model `name` (a keras.Model, or a dict of them for multi-net models)."""
    if name not in MODELS:
        raise unknown_name("model", name, MODELS, "modelzoo list models")
    return MODELS[name].load()(**kwargs)


def recipe_class(name: str) -> type:
    if name not in RECIPES:
        raise unknown_name("recipe", name, RECIPES, "modelzoo list")
    return RECIPES[name].load()
