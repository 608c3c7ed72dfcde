"""The node editor: scene (mirrors the core graph), view (zoom/pan/drops), items, commands."""
