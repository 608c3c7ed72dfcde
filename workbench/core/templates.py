"""Ready-made graphs fitted to a data set: the starting points of `workbench new` and
File › New. Each returns a whole Project (graph + training settings) that trains well with
its defaults on the data it was fitted to.
"""
from __future__ import annotations

from dataclasses import dataclass

from workbench.core import layout
from workbench.core.graph import Graph
from workbench.core.project import Project, default_training


@dataclass
class DataShape:
    """What a template needs to know about the data (workbench.data.PreparedData has it all)."""
    input_shape: tuple[int, ...]
    input_dtype: str = "float32"
    cardinality: int | None = None
    task: str = "classification"        # or "regression"
    num_classes: int = 0
    target_shape: tuple[int, ...] = ()
    rows: int = 1000                    # training rows, to size batches and epochs


TEMPLATES: dict[str, str] = {
    "mlp-classifier": "Two hidden layers (ReLU; 64 units, or 256 with dropout from 500 rows) and a "
                      "score per class; CrossEntropy, Adam.",
    "mlp-regressor": "Two hidden layers (ReLU; 64 units, or 256 with dropout from 500 rows) and one "
                     "output per target; MSE, Adam.",
    "cnn-classifier": "Two Conv2d + MaxPool blocks, then a dense layer; for images (C×H×W).",
    "text-classifier": "Embedding → mean over words → Linear: the classic fast text classifier.",
    "lstm-classifier": "Embedding → LSTM (last step) → Linear, for token sequences.",
    "transformer-classifier": "Embedding + positions → Transformer encoder layer → mean → Linear.",
}


def _dims(shape) -> str:
    return ",".join(str(d) for d in shape)


class _Chain:
    """Adds nodes left to right, connecting each to the previous one's output."""

    def __init__(self, graph: Graph):
        self.graph, self.last = graph, None

    def add(self, type_: str, title: str | None = None, **params):
        node = self.graph.add_node(type_, title, params)
        if self.last is not None:
            self.graph.connect(self.last.id, "out", node.id, "in")
        self.last = node
        return node


TINY_ROWS = 500  # below this many training rows a model sees each row many times


def sized_training(rows: int, task: str = "classification") -> dict:
    """THE rule that sizes training from the data (`workbench new`, every template, and the
    app's File › New once data is loaded): epochs, batch size and early stopping.

    Few rows: small batches and many epochs (each epoch is only a few steps). Early stopping
    watches the validation loss, except for classification on tiny data: a validation split
    of a few dozen rows makes the loss track the confidence on easy rows while the few
    boundary rows decide the accuracy (measured on iris: see docs/training.md)."""
    tiny = rows < TINY_ROWS
    classify = task == "classification"
    metric, patience = ("val_accuracy", 30) if classify and tiny else ("val_loss", 10)
    return {"epochs": 200 if tiny else 100,
            "batch_size": 16 if tiny else 32 if rows < 5000 else 64,
            "early_stopping": {"metric": metric, "patience": patience}}


def describe_sizing(rows: int, task: str = "classification", epochs: int | None = None) -> str:
    """One line saying what the rule chose and why, for the Training panel."""
    t = sized_training(rows, task)
    es = t["early_stopping"]
    return (f"sized for {rows:,} training rows: {epochs or t['epochs']} epochs, "
            f"batch {t['batch_size']}, "
            f"early stop on {es['metric']} after {es['patience']} epochs without improvement")


def apply_sizing(training: dict, rows: int, task: str = "classification",
                 epochs: int | None = None) -> dict:
    """`training` with the rule's values put in (a template may pick its own epochs)."""
    rule = sized_training(rows, task)
    out = dict(training, epochs=epochs or rule["epochs"], batch_size=rule["batch_size"])
    out["early_stopping"] = dict(training.get("early_stopping", {}), **rule["early_stopping"])
    return out


def build(name: str, data: DataShape, project_name: str | None = None) -> Project:
    if name not in TEMPLATES:
        raise KeyError(f"unknown template '{name}'; choose one of: {', '.join(TEMPLATES)}")
    g = Graph()
    chain = _Chain(g)
    chain.add("Input", "input", name="x", shape=_dims(data.input_shape), dtype=data.input_dtype,
              cardinality=data.cardinality or 0)
    classify = data.task == "classification"
    width = data.num_classes if classify else (data.target_shape[0] if data.target_shape else 1)
    lr, epochs, decay = 1e-3, None, 0.0    # None: the rule's epochs (sized_training)
    tiny = data.rows < TINY_ROWS
    if name in ("mlp-classifier", "mlp-regressor"):
        if len(data.input_shape) > 1:
            chain.add("Flatten", "flatten")
        # Small data: a small net with a high rate; more rows: wider, with dropout.
        hidden, dropout, lr = (64, 0.0, 3e-3) if tiny else (256, 0.3, 1e-3)
        chain.add("Linear", "fc1", out_features=hidden)
        chain.add("ReLU", "relu1")
        if dropout:
            chain.add("Dropout", "dropout1", p=dropout)
        chain.add("Linear", "fc2", out_features=hidden)
        chain.add("ReLU", "relu2")
        if dropout:
            chain.add("Dropout", "dropout2", p=dropout)
        chain.add("Linear", "head", out_features=width)
    elif name == "cnn-classifier":
        if len(data.input_shape) != 3:
            raise ValueError(f"cnn-classifier needs images C×H×W, the data gives one sample as "
                             f"{_dims(data.input_shape)}: pass --input-shape C,H,W")
        chain.add("Conv2d", "conv1", out_channels=16, kernel_size=3, padding=1)
        chain.add("ReLU", "relu1")
        chain.add("MaxPool2d", "pool1", kernel_size=2)
        chain.add("Conv2d", "conv2", out_channels=32, kernel_size=3, padding=1)
        chain.add("ReLU", "relu2")
        chain.add("AdaptiveAvgPool2d", "pool2", output_size=2)
        chain.add("Flatten", "flatten")
        chain.add("Linear", "fc", out_features=64)
        chain.add("ReLU", "relu3")
        chain.add("Linear", "head", out_features=width)
        lr, epochs = 3e-3, 60
    elif name in ("text-classifier", "lstm-classifier", "transformer-classifier"):
        if data.input_dtype == "int64":
            chain.add("Embedding", "embedding", embedding_dim=64)
        if name == "text-classifier":
            chain.add("GlobalPool", "mean", mode="mean")
            lr, epochs = 5e-3, 30
        elif name == "lstm-classifier":
            # Measured on debian_sections (bench/quality.py, seed 0): last step 0.744; dropout on
            # the embeddings + max over all steps 0.763; + weight decay 1e-4 0.830.
            chain.add("Dropout", "embedding_dropout", p=0.3)
            chain.add("LSTM", "lstm", hidden_size=64, **{"return": "all"})
            chain.add("GlobalPool", "max", mode="max")
            lr, epochs, decay = 3e-3, 30, 1e-4
        else:
            # dropout on the embeddings: 0.701 -> 0.786 on debian_sections (seed 0)
            chain.add("Dropout", "embedding_dropout", p=0.3)
            chain.add("PositionalEmbedding", "positions")
            chain.add("TransformerEncoderLayer", "encoder", num_heads=4, dim_feedforward=128)
            chain.add("GlobalPool", "mean", mode="mean")
            lr, epochs = 3e-3, 30  # measured: 0.744 on debian_sections vs 0.705 at 1e-3
        chain.add("Linear", "head", out_features=width)
    out = chain.add("Output", "output", name="out")
    target = g.add_node("Target", "target", {
        "name": "y", "shape": _dims(data.target_shape),
        "dtype": "int64" if classify else "float32",
        "num_classes": data.num_classes if classify else 0})
    loss = g.add_node("CrossEntropy" if classify else "MSE", "loss")
    opt = g.add_node("Adam", "adam", {"lr": lr, "weight_decay": decay})
    g.connect(out.id, "out", loss.id, "input")
    g.connect(target.id, "out", loss.id, "target")
    g.connect(loss.id, "loss", opt.id, "loss")
    for nid, pos in layout.layered(g).items():
        g.move_node(nid, pos)
    training = apply_sizing(default_training(), data.rows, data.task, epochs)
    return Project(g, project_name or name, {}, training)
