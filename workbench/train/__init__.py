"""The Qt-free training engine: runs a compiled project on prepared data, reports events."""
from workbench.train.checkpoint import CheckpointError, LoadedRun, load_checkpoint, load_run, save_checkpoint

__all__ = ["CheckpointError", "LoadedRun", "load_checkpoint", "load_run", "save_checkpoint"]
