"""Tensor types as shape inference sees them: a shape with a symbolic batch, and a dtype.

A dimension is an int, or a name for a size only known at run time: "batch" always leads,
and a sequence model may use another name (e.g. "steps") for a variable length.
"""
from __future__ import annotations

from dataclasses import dataclass

BATCH = "batch"
Dim = int | str


@dataclass(frozen=True)
class TensorType:
    shape: tuple[Dim, ...]
    dtype: str = "float32"  # "float32" for values, "int64" for indices (tokens, classes)
    # For int64 tensors: how many distinct index values there are (vocabulary size, class
    # count), so that an Embedding or a CrossEntropy loss can size itself from its source.
    cardinality: int | None = None

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def features(self) -> tuple[Dim, ...]:
        """The shape of one sample (without the batch dimension)."""
        return self.shape[1:]

    def with_shape(self, *shape: Dim) -> "TensorType":
        return TensorType(tuple(shape), self.dtype, self.cardinality)

    def __str__(self) -> str:
        return format_shape(self.shape)


def format_shape(shape: tuple[Dim, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def parse_dims(text: str) -> tuple[Dim, ...]:
    """'1,8,8' -> (1, 8, 8); names stay names ('steps,64' -> ('steps', 64)); '' -> ()."""
    dims: list[Dim] = []
    for part in str(text).replace("x", ",").replace("×", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if part.lstrip("-").isdigit():
            value = int(part)
            if value <= 0:
                raise ValueError(f"dimension {value} must be positive")
            dims.append(value)
        elif part.isidentifier():
            dims.append(part)
        else:
            raise ValueError(f"'{part}' is neither a size nor a name")
    return tuple(dims)


def known(*dims: Dim) -> bool:
    return all(isinstance(d, int) for d in dims)


def product(dims: tuple[Dim, ...]) -> Dim:
    if not known(*dims):
        return "?"
    out = 1
    for d in dims:
        out *= d  # type: ignore[operator]
    return out
