"""Everything a plugin needs, in one import: `from workbench.plugin_api import ...`.

This module is the plugin contract: names here keep working across Workbench versions.
It never imports Qt, so a plugin's node specs work headless (CLI, servers, tests).
"""
from workbench.core.plugins import PluginAPI
from workbench.core.spec import Call, NodeSpec, Param, Port, ShapeError
from workbench.core.types import BATCH, TensorType, format_shape, known, product

__all__ = ["PluginAPI", "Call", "NodeSpec", "Param", "Port", "ShapeError", "BATCH", "TensorType",
           "format_shape", "known", "product"]
