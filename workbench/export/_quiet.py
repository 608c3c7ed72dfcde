"""Run an exporter without its progress chatter on stdout, its log lines and its noisy warnings."""
from __future__ import annotations

import contextlib
import io
import logging
import warnings

_LOGGERS = ("torch.onnx", "torch._dynamo", "torch.export", "torch._export", "onnxscript", "torch.fx",
            "torch._subclasses", "torch.utils._sympy", "onnx_ir")


@contextlib.contextmanager
def quiet(caught: list | None = None):
    """Silence stdout/logging; collect the warnings' messages into `caught`."""
    saved = {name: logging.getLogger(name).level for name in _LOGGERS}
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    buf = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as seen, contextlib.redirect_stdout(buf):
            warnings.simplefilter("always")
            yield buf
        if caught is not None:
            for w in seen:
                caught.append(f"{w.category.__name__}: {w.message}")
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
