"""Dialogs of the app (export)."""
