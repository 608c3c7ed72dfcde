"""Colours and the light/dark application palette, in one place."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

CATEGORY_COLOURS = {
    "Input/Output": "#2e9e5b", "Dense": "#3b7dd8", "Convolution": "#1f9fb4", "Pooling": "#5a8fa8",
    "Recurrent": "#8e5bd0", "Attention": "#c04fb0", "Normalisation": "#d0892b",
    "Regularisation": "#9a8a3a", "Reshape": "#6d7780", "Activations": "#e0a020", "Merge": "#4fa08b",
    "Losses": "#d44c4c", "Optimizers": "#7a5cc4", "Schedules": "#a0709a",
}
PORT_COLOURS = {"tensor": "#5b8def", "loss": "#e05555", "optimizer": "#9b6be0"}


def category_colour(category: str) -> QColor:
    if category in CATEGORY_COLOURS:
        return QColor(CATEGORY_COLOURS[category])
    hue = (sum(map(ord, category)) * 37) % 360  # plugin categories: stable, distinct
    return QColor.fromHsv(hue, 150, 200)


@dataclass(frozen=True)
class CanvasColours:
    background: str
    grid: str
    grid_major: str
    node_body: str
    node_border: str
    node_text: str
    node_subtle: str
    selection: str
    edge: str
    edge_label: str
    edge_label_bg: str
    ok: str = "#3cb371"
    bad: str = "#d9534f"
    warning: str = "#e0a020"


LIGHT = CanvasColours("#f4f5f7", "#e6e8ec", "#d8dbe1", "#ffffff", "#b8bdc6", "#1d2025",
                      "#5d6470", "#2f7de1", "#7d8694", "#30353d", "#ffffffd8")
DARK = CanvasColours("#1e2126", "#262a30", "#2e333a", "#2c3038", "#4a505a", "#e8eaee",
                     "#a3aab5", "#4c9bff", "#8a93a2", "#d8dce2", "#1e2126d8")

_current = {"dark": False}


def is_dark() -> bool:
    return _current["dark"]


def canvas() -> CanvasColours:
    return DARK if _current["dark"] else LIGHT


def apply(app: QApplication, dark: bool) -> None:
    """Fusion style with a light or dark palette, so both look the same on every platform."""
    _current["dark"] = dark
    app.setStyle("Fusion")
    p = QPalette()
    if dark:
        window, base, alt, text, button = "#2b2e33", "#1f2226", "#272a2f", "#e6e8eb", "#33373d"
        highlight, disabled = "#3d7fd9", "#7c828c"
    else:
        window, base, alt, text, button = "#eef0f3", "#ffffff", "#f5f6f8", "#1d2025", "#f3f4f6"
        highlight, disabled = "#2f7de1", "#9aa0a8"
    roles = {
        QPalette.Window: window, QPalette.WindowText: text, QPalette.Base: base,
        QPalette.AlternateBase: alt, QPalette.Text: text, QPalette.Button: button,
        QPalette.ButtonText: text, QPalette.ToolTipBase: base, QPalette.ToolTipText: text,
        QPalette.Highlight: highlight, QPalette.HighlightedText: "#ffffff",
        QPalette.PlaceholderText: disabled, QPalette.Link: highlight,
        QPalette.BrightText: "#ff6b6b",
        QPalette.Light: "#4a4f57" if dark else "#ffffff",
        QPalette.Midlight: "#3a3e45" if dark else "#e3e5e9",
        QPalette.Mid: "#3a3e45" if dark else "#c5c9d0",
        QPalette.Dark: "#17191c" if dark else "#a0a5ad",
        QPalette.Shadow: "#000000" if dark else "#7a7f87",
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.Text, QPalette.WindowText, QPalette.ButtonText):
        p.setColor(QPalette.Disabled, role, QColor(disabled))
    app.setPalette(p)
