"""Dialogs of the app (export, import, cluster, search, examples)."""
