"""Workbench: design, train and deploy neural networks on a node canvas."""

__version__ = "0.1.0"
