"""The Qt-free training engine: runs a compiled project on prepared data, reports events.

    trainer.py     Trainer(project, data, ...).run() -> RunResult; pause/resume/stop from any thread
    events.py      Event (what callbacks and metrics.jsonl get), EventGate (the rate limit)
    metrics.py     accuracy / precision / recall / F1 (macro), confusion matrix; MSE, MAE, R²
    device.py      auto/cpu/cuda/mps, mixed precision on CUDA
    runs.py        the run folder: event log, summary, resumable training state
    checkpoint.py  best/last weights + meta (weights_only loading), load_run

Every name below is imported from its module when first asked for, so importing this package
alone loads neither torch nor the data layer (tests/data/test_imports.py checks it).
"""

__all__ = ["CheckpointError", "LoadedRun", "load_checkpoint", "load_run", "save_checkpoint",
           "Trainer", "RunResult", "TrainingError", "NonFiniteError", "Event"]

_LAZY = {"CheckpointError": "checkpoint", "LoadedRun": "checkpoint", "load_checkpoint": "checkpoint",
         "load_run": "checkpoint", "save_checkpoint": "checkpoint", "Trainer": "trainer", "RunResult": "trainer", "TrainingError": "trainer",
         "NonFiniteError": "trainer", "Event": "events"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(f"workbench.train.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'workbench.train' has no attribute {name!r}")
