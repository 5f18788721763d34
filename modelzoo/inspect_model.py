"""`modelzoo inspect`: what a config builds — layer summaries, parameters per network, and the
traced forward graph written for TensorBoard's Graphs tab (the "computation graph" made visible)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelzoo import config as config_module
from modelzoo import devices, paths


@dataclass
class NetworkReport:
    name: str
    trainable: int
    non_trainable: int
    summary: str


@dataclass
class InspectReport:
    config: str
    networks: list[NetworkReport] = field(default_factory=list)
    graph_dir: Path | None = None


def inspect(name_or_path: str, overrides=(), out: Path | None = None,
            data_dir: Path | None = None) -> InspectReport:
    cfg = config_module.load(name_or_path, overrides).config
    placement = devices.place("auto", "one")
    import tensorflow as tf

    from modelzoo.registry import recipe_class

    recipe = recipe_class(cfg.recipe)(cfg, paths.data_dir(data_dir))
    with placement.strategy.scope():
        recipe.build(placement.strategy)
    report = InspectReport(cfg.name)
    graph_dir = Path(out) if out else Path("runs") / cfg.name / "inspect"
    writer = tf.summary.create_file_writer(str(graph_dir))
    for name, model in recipe.networks().items():
        lines: list[str] = []
        model.summary(print_fn=lambda text, line_break=True, into=lines: into.append(text))
        trainable = sum(int(tf.size(v)) for v in model.trainable_weights)
        frozen = sum(int(tf.size(v)) for v in model.non_trainable_weights)
        report.networks.append(NetworkReport(name, trainable, frozen, "\n".join(lines)))
        _trace(tf, writer, name, model, cfg)
    writer.close()
    report.graph_dir = graph_dir
    return report


def _trace(tf, writer, name: str, model, cfg) -> None:
    """Trace one forward pass on zeros and export the graph under the network's name."""
    if getattr(model, "inputs", None):
        shapes = [(1, *t.shape[1:]) for t in model.inputs]
    else:  # a subclassed model: it reads images of the configured size
        shapes = [(1, *cfg.data.image_size, cfg.data.channels)]
    zeros = [tf.zeros(s) for s in shapes]
    forward = tf.function(lambda *x: model(x[0] if len(x) == 1 else list(x), training=False))
    tf.summary.trace_on(graph=True)
    forward(*zeros)
    with writer.as_default():
        tf.summary.trace_export(name=name, step=0)
    tf.summary.trace_off()
