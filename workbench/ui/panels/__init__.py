"""Dockable panels around the canvas: palette, inspector, problems (data/training come later)."""
