"""Pieces every dialog builds the same way: a path field with its Browse… button, and the
read-only monospace box a report or a command list is shown in."""
from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPlainTextEdit, QPushButton


def browse_row(field: QLineEdit, on_browse) -> QHBoxLayout:
    button = QPushButton("Browse…")
    button.clicked.connect(on_browse)
    row = QHBoxLayout()
    row.addWidget(field, 1)
    row.addWidget(button)
    return row


def report_box(placeholder: str = "") -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setReadOnly(True)
    mono = QFont("monospace")
    mono.setStyleHint(QFont.Monospace)
    box.setFont(mono)
    if placeholder:
        box.setPlaceholderText(placeholder)
    return box
