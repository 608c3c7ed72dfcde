"""The Qt-free training engine: runs a compiled project on prepared data, reports events.

    trainer.py     Trainer(project, data, ...).run() -> RunResult; pause/resume/stop from any thread
    events.py      Event (what callbacks and metrics.jsonl get), EventGate (the rate limit)
    metrics.py     accuracy / precision / recall / F1 (macro), confusion matrix; MSE, MAE, R²
    device.py      auto/cpu/cuda/mps, mixed precision on CUDA
    runs.py        the run folder: event log, summary, resumable training state
    checkpoint.py  best/last weights + meta (weights_only loading), load_run

torch is imported by the modules that need it; importing this package alone stays cheap.
"""
from workbench.train.checkpoint import CheckpointError, LoadedRun, load_checkpoint, load_run, save_checkpoint

__all__ = ["CheckpointError", "LoadedRun", "load_checkpoint", "load_run", "save_checkpoint",
           "Trainer", "RunResult", "TrainingError", "NonFiniteError", "Event"]

_LAZY = {"Trainer": "trainer", "RunResult": "trainer", "TrainingError": "trainer",
         "NonFiniteError": "trainer", "Event": "events"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(f"workbench.train.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'workbench.train' has no attribute {name!r}")
