"""Node types marked `extra={"palette": False}` (the Opaque node, which only an import makes)
are not offered in the palette or the canvas's Add Node menu; the rest still are."""
from __future__ import annotations


def test_opaque_is_not_in_the_palette(window):
    items = window.palette.items()
    assert "Opaque" not in items and {"Linear", "LRN", "Conv2d"} <= set(items)


def test_opaque_is_not_in_the_add_node_menu(window):
    from PySide6.QtCore import QPointF
    menu = window.build_context_menu(QPointF(0, 0), None)
    add = next(a.menu() for a in menu.actions() if a.text() == "Add Node")
    categories = {a.text(): a.menu() for a in add.actions() if a.menu()}
    assert "Imported" not in categories and "Normalisation" in categories
    assert "LRN" in [a.text() for a in categories["Normalisation"].actions()]
