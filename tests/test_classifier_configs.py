"""The shipped classifier configs load, and the CIFAR-10 ones carry the PyImageSearch recipe."""

from __future__ import annotations

import pytest

from modelzoo import config

MNIST = ["shallownet", "minigooglenet", "minivggnet"]


@pytest.mark.parametrize("name", MNIST)
def test_mnist_configs(name):
    cfg = config.load(name).config
    assert (cfg.recipe, cfg.model.name, cfg.data.dataset) == ("classifier", name, "mnist")
    assert cfg.data.image_size == [28, 28] and cfg.data.channels == 1


@pytest.mark.parametrize("name", MNIST)
def test_cifar10_configs_follow_the_pyimagesearch_recipe(name):
    cfg = config.load(f"{name}_cifar10").config
    optimizer = cfg.train.optimizer
    assert cfg.data.dataset == "cifar10" and cfg.data.augment
    assert (cfg.train.batch_size, cfg.train.steps) == (128, 60 * 390)
    assert (optimizer.name, optimizer.learning_rate, optimizer.momentum) == ("sgd", 0.01, 0.9)
    assert optimizer.schedule == "inverse_time" and optimizer.decay_steps == 1
    assert optimizer.decay_rate == pytest.approx(0.01 / 60)
