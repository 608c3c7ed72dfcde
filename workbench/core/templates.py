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
    # every input as (name, kind, shape, dtype, cardinality); kind: table | text | image
    inputs: tuple = ()


TEMPLATES: dict[str, str] = {
    "mlp-classifier": "Two hidden layers (ReLU; 64 units, or 256 with dropout from 500 rows) and a "
                      "score per class; CrossEntropy, Adam.",
    "mlp-regressor": "Two hidden layers (ReLU; 64 units, or 256 with dropout from 500 rows) and one "
                     "output per target; MSE, Adam.",
    "cnn-classifier": "Two Conv2d + MaxPool blocks, then a dense layer; for images (C×H×W).",
    "text-classifier": "Embedding → mean over words → Linear: the classic fast text classifier.",
    "lstm-classifier": "Embedding → LSTM (last step) → Linear, for token sequences.",
    "transformer-classifier": "Embedding + positions → Transformer encoder layer → mean → Linear.",
    "image-classifier": "Four Conv2d + BatchNorm + ReLU blocks, global average pooling, Linear; "
                        "for image folders and image columns.",
    "multimodal": "One branch per input (numbers: dense; text: Embedding + mean; image: small "
                  "CNN) joined by Concat, then a dense head.",
}
# four blocks: a receptive field of 31 px sees a whole shape in a 32×32 image (measured on
# resources/examples/data/shapes, 20 epochs: 0.986 test with four blocks, 0.61 with three)
IMAGE_WIDTHS = (16, 32, 64, 64)


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
    classify = data.task == "classification"
    if name == "multimodal":
        return _multimodal(g, data, project_name or name)
    chain.add("Input", "input", name="x", shape=_dims(data.input_shape), dtype=data.input_dtype,
              cardinality=data.cardinality or 0)
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
    elif name == "image-classifier":
        if len(data.input_shape) != 3:
            raise ValueError(f"image-classifier needs images C×H×W, the data gives one sample as "
                             f"{_dims(data.input_shape)}: load an image folder or image column")
        _conv_blocks(chain, IMAGE_WIDTHS)
        chain.add("Dropout", "dropout", p=0.2)
        chain.add("Linear", "head", out_features=width)
        lr, epochs = 3e-3, 40
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
    return _finish(g, chain, data, project_name or name, lr, epochs, decay)


def _conv_blocks(chain: _Chain, widths) -> None:
    """Conv 3×3 + BatchNorm + ReLU per width (pooling halves the size between blocks), then
    global average pooling to one vector per image."""
    for i, w in enumerate(widths, 1):
        chain.add("Conv2d", f"conv{i}", out_channels=w, kernel_size=3, padding=1)
        chain.add("BatchNorm2d", f"bn{i}")
        chain.add("ReLU", f"relu{i}")
        if i < len(widths):
            chain.add("MaxPool2d", f"pool{i}", kernel_size=2)
    chain.add("AdaptiveAvgPool2d", "global_pool", output_size=1)
    chain.add("Flatten", "flatten")


def _multimodal(g: Graph, data: DataShape, project_name: str) -> Project:
    """A branch per input, each ending in a vector, joined by Concat."""
    if len(data.inputs) < 2:
        raise ValueError("multimodal needs two or more inputs: group the columns into inputs "
                         "(e.g. the numbers and the text)")
    if len(data.inputs) > 8:
        raise ValueError(f"multimodal joins at most 8 inputs, the data has {len(data.inputs)}")
    ends = []
    for name, kind, shape, dtype, cardinality in data.inputs:
        chain = _Chain(g)
        chain.add("Input", name, name=name, shape=_dims(shape), dtype=dtype,
                  cardinality=cardinality or 0)
        if kind == "text":
            chain.add("Embedding", f"{name}_embedding", embedding_dim=32)
            chain.add("GlobalPool", f"{name}_mean", mode="mean")
        elif kind == "image":
            first = len(g.nodes)
            _conv_blocks(chain, IMAGE_WIDTHS[:3])
            for node in list(g.nodes.values())[first:]:  # conv1 -> image_conv1, …
                g.set_title(node.id, f"{name}_{node.title}")
        else:
            if len(shape) > 1:
                chain.add("Flatten", f"{name}_flatten")
            chain.add("Linear", f"{name}_dense", out_features=32)
            chain.add("ReLU", f"{name}_relu")
        ends.append(chain.last)
    join = g.add_node("Concat", "join", {"dim": -1})
    for end, port in zip(ends, "abcdefgh"):
        g.connect(end.id, "out", join.id, port)
    chain = _Chain(g)
    chain.last = join
    chain.add("Linear", "fc", out_features=64)
    chain.add("ReLU", "relu")
    classify = data.task == "classification"
    width = data.num_classes if classify else (data.target_shape[0] if data.target_shape else 1)
    chain.add("Linear", "head", out_features=width)
    return _finish(g, chain, data, project_name, 3e-3, 40, 0.0)


def _finish(g: Graph, chain: _Chain, data: DataShape, project_name: str, lr: float,
            epochs: int | None, decay: float) -> Project:
    """Output, Target, loss and optimizer after the chain's last node; laid out; sized."""
    classify = data.task == "classification"
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
    return Project(g, project_name, {}, training)
