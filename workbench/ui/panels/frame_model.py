"""A read-only table model over a pandas DataFrame that fetches cells lazily.

The frame is read once (in a worker); the model keeps a reference to each column's array
(`Series.to_numpy()` does not copy numeric columns) and formats only the cells the view asks
for, so a million rows cost nothing until they are scrolled into view.
"""
from __future__ import annotations

import math
import numbers

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QFont

MISSING_TEXT = "—"


class FrameModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.columns: list[str] = []
        self.arrays: list = []
        self.headers: list[str] = []
        self.rows = 0
        self._italic = QFont()
        self._italic.setItalic(True)

    def set_frame(self, df, headers: list[str] | None = None) -> None:
        self.beginResetModel()
        if df is None:
            self.columns, self.arrays, self.rows = [], [], 0
        else:
            self.columns = [str(c) for c in df.columns]
            self.arrays = [df[c].to_numpy() for c in df.columns]
            self.rows = len(df)
        self.headers = list(headers) if headers else list(self.columns)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self.rows

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def value(self, row: int, column: int):
        return self.arrays[column][row]

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        v = self.arrays[index.column()][index.row()]
        missing = v is None or (isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral)
                               and math.isnan(v)) or _is_na(v)
        if role == Qt.DisplayRole:
            if missing:
                return MISSING_TEXT
            if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral):
                return f"{float(v):.6g}"
            text = str(v)
            return text if len(text) <= 200 else text[:199] + "…"
        if role == Qt.ToolTipRole and not missing:
            text = str(v)
            return text if len(text) > 40 else None
        if role == Qt.ForegroundRole and missing:
            return QColor("#d9534f")
        if role == Qt.FontRole and missing:
            return self._italic
        if role == Qt.TextAlignmentRole:
            if not missing and isinstance(v, numbers.Real) and not isinstance(v, bool):
                return int(Qt.AlignRight | Qt.AlignVCenter)
            return int(Qt.AlignLeft | Qt.AlignVCenter)
        return None

    def headerData(self, section: int, orientation, role: int = Qt.DisplayRole):
        if role != Qt.DisplayRole:
            return None
        if orientation == Qt.Horizontal:
            return self.headers[section] if section < len(self.headers) else None
        return str(section + 1)


def _is_na(v) -> bool:
    try:
        import pandas as pd
        return v is pd.NA or v is pd.NaT
    except ImportError:  # pragma: no cover
        return False
