"""The DCGAN recipe on the real MNIST sample: one step trains both networks; a short run writes its
pictures and metrics, `sample` draws a grid of the asked size, and a rerun resumes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from modelzoo import config, sample
from modelzoo.training import train

BATCH = 16
TINY = [f"train.batch_size={BATCH}", "train.log_every=2", "train.checkpoint_every=2",
        "train.keep_checkpoints=5", "train.eval_every=0", "eval.batch_size=32",
        "gan.metric_samples=64"]


@pytest.fixture(scope="module")
def classifier_run(sample_data_dir, tmp_path_factory):
    """A quickly trained ShallowNet: the metrics' classifier, named by its run dir."""
    run_dir = tmp_path_factory.mktemp("runs") / "classifier"
    train("shallownet", data_dir=sample_data_dir, run_dir=run_dir, device="cpu", seed=0,
          overrides=["train.steps=30", "train.log_every=10", "train.checkpoint_every=30"])
    return run_dir


@pytest.fixture(scope="module")
def dcgan_run(sample_data_dir, classifier_run, tmp_path_factory):
    """Four steps of DCGAN, then the same run resumed to six: (run dir, first final, resumed)."""
    run_dir = tmp_path_factory.mktemp("runs") / "dcgan"
    tiny = [*TINY, f"gan.classifier={classifier_run}"]
    first = train("dcgan", data_dir=sample_data_dir, run_dir=run_dir, device="cpu", seed=0,
                  overrides=[*tiny, "train.steps=4"])
    resumed = train("dcgan", data_dir=sample_data_dir, run_dir=run_dir, device="cpu",
                    resume=True, overrides=[*tiny, "train.steps=6"])
    return run_dir, first.final, resumed.final


def built_recipe(sample_data_dir, *overrides: str):
    """The `dcgan` recipe at the test batch, built on the default (one-device) strategy."""
    import tensorflow as tf

    from modelzoo.recipes.dcgan import DCGAN

    cfg = config.load("dcgan", [f"train.batch_size={BATCH}", "train.seed=0", *overrides]).config
    recipe = DCGAN(cfg, sample_data_dir)
    recipe.build(tf.distribute.get_strategy())
    return recipe


def weights_of(recipe) -> dict[str, list[np.ndarray]]:
    """Copies of both networks' trainable weights, to compare with after a step."""
    return {name: [w.numpy().copy() for w in net.trainable_weights]
            for name, net in recipe.networks().items()}


def moved_since(before: dict[str, list[np.ndarray]], recipe) -> dict[str, list[bool]]:
    """Per network, whether each trainable weight tensor now differs from `before`."""
    return {name: [not np.array_equal(old, new.numpy())
                   for old, new in zip(before[name], net.trainable_weights, strict=True)]
            for name, net in recipe.networks().items()}


def test_one_train_step_updates_both_networks(sample_data_dir):
    recipe = built_recipe(sample_data_dir)
    real = next(iter(recipe.train_dataset(BATCH, seed=0)))
    assert real.shape == (BATCH, 28, 28, 1)
    assert -1.0 <= float(real.numpy().min()) < float(real.numpy().max()) <= 1.0
    before = weights_of(recipe)
    losses = recipe.train_step(real)
    assert set(losses) == {"g_loss", "d_loss", "r1_penalty"}  # `dcgan` has gan.r1_gamma 1
    assert all(np.isfinite(float(v)) and float(v) > 0 for v in losses.values())
    for name, moved in moved_since(before, recipe).items():
        assert all(moved), f"{name}: {moved.count(False)} weight tensors did not change"
    assert int(recipe.g_optimizer.iterations) == int(recipe.d_optimizer.iterations) == 1


def test_the_generator_learns_at_its_own_rate_when_one_is_set(sample_data_dir):
    """gan.generator_learning_rate applies to the generator only: at 0 it stays put while the
    discriminator, at train.optimizer's rate, still moves."""
    recipe = built_recipe(sample_data_dir, "gan.generator_learning_rate=0")
    before = weights_of(recipe)
    recipe.train_step(next(iter(recipe.train_dataset(BATCH, seed=0))))
    moved = moved_since(before, recipe)
    assert not any(moved["generator"])
    assert all(moved["discriminator"])


def test_the_tutorial_config_drops_the_defaults_departures_from_the_tutorial():
    cfg = config.load("dcgan_tutorial").config  # it extends `dcgan`, whose generator is faster
    assert cfg.gan.generator_learning_rate is None
    assert cfg.gan.r1_gamma == 0 and cfg.gan.ema_decay == 0
    optimizer = cfg.train.optimizer
    assert optimizer.learning_rate == pytest.approx(1e-4)
    assert (optimizer.beta_1, optimizer.beta_2) == (0.9, 0.999)  # Keras's Adam defaults


def test_a_short_run_reports_the_metrics_with_ceiling_and_floor(dcgan_run):
    _, first, _ = dcgan_run
    assert first["step"] == 4
    for key in ("mnist_score", "real_mnist_score", "untrained_mnist_score"):
        assert 1.0 <= first[key] <= 10.0, key
    for key in ("frechet_distance", "real_frechet_distance", "untrained_frechet_distance"):
        assert first[key] >= 0.0, key
    assert first["real_mnist_score"] > first["untrained_mnist_score"]
    assert first["real_frechet_distance"] < first["untrained_frechet_distance"]


def test_a_run_writes_grids_the_gif_and_the_loss_curves(dcgan_run):
    run_dir, _, _ = dcgan_run
    grids = sorted(p.name for p in (run_dir / "samples").glob("*.png"))
    assert grids == ["step_000004.png", "step_000006.png"]  # one per evaluation
    gif = Image.open(run_dir / "samples.gif")
    assert gif.n_frames == 2
    assert gif.size == sample.grid_pixels(28, 28, rows=4, columns=4)  # gan.grid_size 4
    assert Image.open(run_dir / "losses.png").size[0] > 0


def test_resume_continues_both_optimisers_and_the_noise_stream(dcgan_run, sample_data_dir):
    import tensorflow as tf

    from modelzoo import devices, runs
    from modelzoo.engine import Engine
    from modelzoo.recipes.dcgan import DCGAN

    run_dir, _, resumed = dcgan_run
    assert resumed["step"] == 6
    train_steps = [r["step"] for r in runs.read_metrics(run_dir) if r["phase"] == "train"]
    assert train_steps == [2, 4, 6]  # the rerun started at the step-4 checkpoint

    def restored(step):
        recipe = DCGAN(runs.read_config(run_dir), sample_data_dir)
        placement = devices.Placement(strategy=tf.distribute.get_strategy(), description="test")
        Engine(recipe, placement, run_dir).restore(run_dir / "checkpoints" / f"ckpt-{step}")
        return recipe

    at_4, at_6 = restored(4), restored(6)
    assert int(at_6.g_optimizer.iterations) == int(at_6.d_optimizer.iterations) == 6
    # Two more steps from the step-4 state draw the noise that brings it to the step-6 state.
    for _ in range(2):
        at_4.noise.normal([BATCH, at_4.gan.noise_dim])
    np.testing.assert_array_equal(at_4.noise.state.numpy(), at_6.noise.state.numpy())


def test_sample_writes_a_png_of_the_asked_size(dcgan_run, tmp_path):
    run_dir, _, _ = dcgan_run
    path = sample.sample(run_dir, num=10, seed=3, out=tmp_path / "ten.png")
    image = Image.open(path)
    assert image.mode == "L"
    assert image.size == sample.grid_pixels(28, 28, rows=3, columns=4)  # 10 images: 4 + 4 + 2
    again = sample.sample(run_dir, num=10, seed=3, out=tmp_path / "again.png")
    other = sample.sample(run_dir, num=10, seed=4, out=tmp_path / "other.png",
                          checkpoint=run_dir / "checkpoints" / "ckpt-4")
    assert np.array_equal(np.asarray(image), np.asarray(Image.open(again)))
    assert not np.array_equal(np.asarray(image), np.asarray(Image.open(other)))
    default = sample.sample(run_dir, num=1)
    assert default == run_dir / "sample_seed0_n1.png" and default.is_file()


def test_grid_layout_and_pixel_values():
    images = np.stack([np.full((28, 28, 1), v, np.float32) for v in (-1.0, 0.0, 1.0)])
    grid = np.asarray(sample.grid_image(images, columns=3, scale=1))
    assert grid.shape == (28 + 2 * sample.GAP, 3 * (28 + sample.GAP) + sample.GAP)
    top = sample.GAP
    lefts = [sample.GAP + i * (28 + sample.GAP) for i in range(3)]
    assert [int(grid[top, left]) for left in lefts] == [0, 128, 255]  # x·127.5 + 127.5


def test_eval_of_a_run_records_the_classifier_it_used(dcgan_run, classifier_run, sample_data_dir):
    from modelzoo import evaluate

    run_dir, _, resumed = dcgan_run
    session = evaluate.open_session(run_dir, None, sample_data_dir)  # as `modelzoo eval` does
    results = session.engine.evaluate("test")
    # The same checkpoint, noise and real images as the run's own final evaluation.
    assert results["mnist_score"] == pytest.approx(resumed["mnist_score"], rel=1e-3)
    assert results["frechet_distance"] == pytest.approx(resumed["frechet_distance"], rel=1e-3)
    info = session.recipe.eval_info()
    assert info["classifier_run_dir"] == str(classifier_run)
    assert info["classifier_seed"] == 0  # with the run dir, it names the yardstick exactly
    assert info["classifier_checkpoint"].endswith("best-30")
    assert info["metric_images"] == 64


def test_the_weight_average_follows_the_generator_by_its_decay(sample_data_dir):
    """With gan.ema_decay, each step moves the averaged generator (what eval and sample use)
    a fraction (1 - d) of the way to the trained one, d = min(ema_decay, (1 + t) / (10 + t))."""
    recipe = built_recipe(sample_data_dir, "gan.ema_decay=0.5")
    assert recipe.sampler is not recipe.generator and recipe.inference_model() is recipe.sampler
    batches = iter(recipe.train_dataset(BATCH, seed=0))
    for step in range(3):
        average = [v.numpy().copy() for v in recipe.sampler.trainable_weights]
        recipe.train_step(next(batches))
        decay = min(0.5, (1.0 + step + 1) / (10.0 + step + 1))  # after this step's update
        for before, now, trained in zip(average, recipe.sampler.trainable_weights,
                                        recipe.generator.trainable_weights, strict=True):
            np.testing.assert_allclose(now.numpy(), decay * before + (1 - decay) * trained.numpy(),
                                       rtol=1e-5, atol=1e-6)
    assert not np.array_equal(recipe.sampler.trainable_weights[0].numpy(),
                              recipe.generator.trainable_weights[0].numpy())


def test_r1_measures_the_discriminators_squared_slope_at_each_real_image(sample_data_dir):
    """With a linear discriminator D(x) = w.x + b the gradient at every image is w, so each
    image's R1 term is ||w||^2, and the penalty trains D through it: d||w||^2/dw = 2w."""
    import keras
    import tensorflow as tf

    recipe = built_recipe(sample_data_dir, "gan.r1_gamma=10")
    real = next(iter(recipe.train_dataset(BATCH, seed=0)))
    linear = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(1)])
    recipe.discriminator = linear
    kernel = linear.layers[-1].kernel
    with tf.GradientTape() as tape:
        logits, slopes = recipe._discriminate_real(real)
        penalty = tf.reduce_mean(slopes)
    weights = kernel.numpy()
    np.testing.assert_allclose(slopes.numpy(), np.full(BATCH, np.sum(weights**2)), rtol=1e-5)
    np.testing.assert_allclose(logits.numpy(), linear(real).numpy(), rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(penalty, kernel).numpy(), 2 * weights, rtol=1e-5)


def test_without_r1_no_slope_is_computed_or_logged(sample_data_dir):
    recipe = built_recipe(sample_data_dir, "gan.r1_gamma=0")
    real = next(iter(recipe.train_dataset(BATCH, seed=0)))
    assert recipe._discriminate_real(real)[1] is None
    assert "r1_penalty" not in recipe.train_step(real)


def test_r1_trains_on_two_mirrored_replicas(classifier_run, sample_data_dir, tmp_path):
    """The penalty, and the weight average's cross-replica update, under MirroredStrategy."""
    from modelzoo import runs
    from tests.engine_testlib import modelzoo

    tiny = [arg for setting in TINY for arg in ("--set", setting)]
    result = modelzoo(["train", "dcgan", "--device", "cpu:2", "--seed", "0",
                       "--run-dir", str(tmp_path / "run"), *tiny, "--set", "train.steps=4",
                       "--set", "gan.r1_gamma=1",
                       "--set", f"gan.classifier={classifier_run}"],
                      sample_data_dir, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "MirroredStrategy over 2 devices" in result.stderr
    logged = [r for r in runs.read_metrics(tmp_path / "run") if r["phase"] == "train"]
    assert [r["step"] for r in logged] == [2, 4]
    assert all(np.isfinite(r["r1_penalty"]) and r["r1_penalty"] > 0 for r in logged)
