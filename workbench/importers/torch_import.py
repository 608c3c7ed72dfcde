"""PyTorch modules (`file.py:Class`, `package.module:Class`, an nn.Module) and `.pt2`
programs as Workbench graphs. (being written)"""
from __future__ import annotations

from workbench.importers.result import ImportError_, ImportResult


def import_nn(module, input_shape, dtype: str = "float32", name: str = "model") -> ImportResult:
    raise ImportError_("importing PyTorch modules is not ready yet")


def import_module(spec: str, input_shape) -> ImportResult:
    raise ImportError_(f"{spec}: importing PyTorch modules is not ready yet")


def import_pt2(path) -> ImportResult:
    raise ImportError_(f"{path}: importing .pt2 programs is not ready yet")
