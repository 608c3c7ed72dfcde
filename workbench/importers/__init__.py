"""Models from elsewhere (ONNX files, PyTorch modules, `.pt2` programs) as Workbench graphs
with their weights, checked against the source before they are kept."""
from workbench.importers.result import TOLERANCE, ImportError_, ImportResult

__all__ = ["TOLERANCE", "ImportError_", "ImportResult"]
