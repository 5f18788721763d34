"""Experiment configs: names and paths, `extends`, `--set` overrides, strict typed validation."""

from pathlib import Path

import pytest

from modelzoo import config
from modelzoo.errors import ConfigError, UnknownNameError

BASE = """
recipe: classifier
description: a small test experiment
model: {name: shallownet, num_classes: 10}
data: {dataset: mnist, image_size: [28, 28], channels: 1}
train:
  steps: 100
  batch_size: 32
  optimizer: {name: sgd, learning_rate: 0.01, momentum: 0.9}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_config_file_loads_into_typed_sections(tmp_path):
    loaded = config.load(str(write(tmp_path, "exp.yaml", BASE)))
    cfg = loaded.config
    assert cfg.name == "exp"
    assert cfg.train.steps == 100 and cfg.train.optimizer.momentum == 0.9
    assert cfg.data.image_size == [28, 28]
    assert cfg.eval.monitor == "accuracy"  # defaults fill what the file leaves out


def test_every_shipped_config_validates():
    names = config.list_configs()
    for name in names:
        cfg = config.load(name).config
        assert cfg.train.steps > 0 and cfg.train.batch_size > 0, name


def test_extends_merges_sections_and_child_wins(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\ntrain: {steps: 7}\n")
    loaded = config.load(str(child))
    assert loaded.config.train.steps == 7
    assert loaded.config.train.batch_size == 32  # kept from the base
    assert loaded.origins["train.steps"] == str(child)
    assert loaded.origins["train.batch_size"] == str(tmp_path / "base.yaml")


def test_extends_cycle_is_an_error(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        config.load(str(tmp_path / "a.yaml"))


def test_overrides_are_yaml_typed_and_marked(tmp_path):
    path = write(tmp_path, "exp.yaml", BASE)
    loaded = config.load(str(path), ["train.steps=250", "data.image_size=[32, 32]",
                                     "data.image_size.0=30", "train.seed=null"])
    assert loaded.config.train.steps == 250
    assert loaded.config.data.image_size == [30, 32]
    assert loaded.origins["train.steps"] == "--set"
    shown = config.to_yaml(loaded.config.to_dict(), loaded.origins)
    assert "steps: 250  # --set" in shown
    assert "batch_size: 32\n" in shown


def test_unknown_key_suggests_the_close_one(tmp_path):
    path = write(tmp_path, "exp.yaml", BASE.replace("batch_size: 32", "batch_sise: 32"))
    with pytest.raises(ConfigError) as err:
        config.load(str(path))
    message = str(err.value)
    assert "train.batch_sise: unknown key. Did you mean 'batch_size'?" in message
    assert "train.batch_size: required key is missing" in message
    assert str(path) in message


def test_wrong_type_names_key_expected_value_and_source(tmp_path):
    path = write(tmp_path, "exp.yaml", BASE)
    with pytest.raises(ConfigError) as err:
        config.load(str(path), ["train.steps=-5", "train.optimizer.name=adamw"])
    message = str(err.value)
    assert "train.steps: expected an int > 0, got -5 (from --set)" in message
    assert "train.optimizer.name: expected one of 'sgd', 'adam', got 'adamw'" in message


def test_decay_rates_must_stay_below_one(tmp_path):
    path = write(tmp_path, "exp.yaml", BASE)
    with pytest.raises(ConfigError, match=r"train.optimizer.beta_2: expected a number <= 0.99999, got 1.0"):
        config.load(str(path), ["train.optimizer.beta_2=1"])


@pytest.mark.parametrize("value, needle", [("[]", "at least 1 item"),
                                           ("[fc3,fc3]", "without repeats")])
def test_an_empty_or_repeated_domain_classifier_list_is_refused(value, needle):
    with pytest.raises(ConfigError, match="dsn.domain_classifier_on") as info:
        config.load("dann", [f"dsn.domain_classifier_on={value}"])
    assert needle in str(info.value)


def test_bool_is_not_accepted_as_a_number(tmp_path):
    path = write(tmp_path, "exp.yaml", BASE)
    with pytest.raises(ConfigError, match="train.batch_size: expected an int"):
        config.load(str(path), ["train.batch_size=true"])


def test_python_tags_are_refused(tmp_path):
    path = write(tmp_path, "exp.yaml", BASE + "x: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(str(path))


def test_bad_override_syntax_and_index(tmp_path):
    path = write(tmp_path, "exp.yaml", BASE)
    with pytest.raises(ConfigError, match="is not KEY=VALUE"):
        config.load(str(path), ["train.steps"])
    with pytest.raises(ConfigError, match="index 5 is out of range"):
        config.load(str(path), ["data.image_size.5=1"])


def test_unknown_config_name_suggests():
    names = config.list_configs()
    if not names:
        pytest.skip("no configs shipped yet")
    name = sorted(names)[0]
    with pytest.raises(UnknownNameError, match="Did you mean"):
        config.load(name + "x")


def test_from_dict_round_trips_a_saved_config(tmp_path):
    cfg = config.load(str(write(tmp_path, "exp.yaml", BASE))).config
    assert config.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("raw, needle", [
    (b"train:\n  steps: \xff\xfe\n", "not UTF-8"),
    (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "too deeply"),
    (b"extends: no_such_base\n", "extends 'no_such_base'"),
], ids=["not-utf8", "deep", "missing-base"])
def test_unreadable_configs_name_the_file(tmp_path, raw, needle):
    from modelzoo.errors import ModelzooError

    path = tmp_path / "bad.yaml"
    path.write_bytes(raw)
    with pytest.raises(ModelzooError) as err:
        config.load(str(path))
    assert needle in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("flag, needle", [("train.steps.deeper=3", "is a value, not a section"),
                                          ("train.steps=" + "[" * 5000, "too deeply")])
def test_bad_set_flags_are_config_errors(flag, needle):
    with pytest.raises(ConfigError, match=needle):
        config.load("shallownet", [flag])
