"""Users' data files into training-ready tensors — Qt-free, shared by the app and the CLI.

    read.py        CSV/TSV/TXT -> DataFrame: dialect sniffing, fast C-engine read, clear errors
    preview.py     first rows and column summaries without reading the whole file
    schema.py      column types and roles, the target and its classes (`inspect`)
    settings.py    DataSettings: the user's choices, saved in the project
    transforms.py  Preprocessor: the fitted, serialisable transforms (preprocessing.json)
    text.py        tokeniser, vocabulary, padding
    split.py       seeded (stratified) train/val/test and k-fold indices
    prepared.py    prepare()/kfold(): settings -> PreparedData (tensors + fitted transforms)
    batching.py    index-slice batches and training-time augmentation

torch is imported only where tensors are made (prepared.py, batching.py), pandas only inside
functions, so importing this package stays cheap.
"""
from __future__ import annotations

from workbench.data.errors import DataError
from workbench.data.preview import ColumnSummary, Preview, preview
from workbench.data.read import ReadInfo, read_table
from workbench.data.schema import ColumnInfo, Schema, inspect
from workbench.data.settings import DataSettings
from workbench.data.text import OOV, PAD
from workbench.data.transforms import Preprocessor

__all__ = [
    "DataError", "DataSettings", "ReadInfo", "read_table", "Preview", "ColumnSummary", "preview",
    "Schema", "ColumnInfo", "inspect", "prepare", "kfold", "Split", "PreparedData",
    "Preprocessor", "batches", "augment", "PAD", "OOV",
]

_LAZY = {"prepare": "prepared", "kfold": "prepared", "Split": "prepared",
         "PreparedData": "prepared", "batches": "batching", "augment": "batching"}


def __getattr__(name: str):
    """prepare, kfold, Split, PreparedData, batches, augment need torch: load them on first use."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"workbench.data.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'workbench.data' has no attribute {name!r}")
