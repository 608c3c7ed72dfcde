"""Where training runs and in which precision.

`auto` prefers CUDA, then Apple MPS, then the CPU, so the same project trains on whatever the
machine has. Mixed precision is a CUDA feature here: autocast on the CPU is slower than fp32
for the small models Workbench builds, so a bf16/fp16 setting falls back to fp32 there (and
the trainer says so in its start event) instead of failing.
"""
from __future__ import annotations

import contextlib

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")


class DeviceError(Exception):
    """A named device this machine does not have; one line for the user."""


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def resolve(name: str = "auto") -> torch.device:
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name.split(":")[0] not in DEVICES[1:]:
        raise DeviceError(f"unknown device '{name}'; choose one of: {', '.join(DEVICES)}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device '{name}' asked for, but this PyTorch sees no CUDA GPU "
                          "(use --device auto or cpu)")
    if name == "mps" and not _mps_available():
        raise DeviceError("device 'mps' asked for, but Apple MPS is not available here")
    return torch.device(name)


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype to use, or None for plain fp32."""
    if precision not in PRECISIONS:
        raise DeviceError(f"unknown precision '{precision}'; choose one of: {', '.join(PRECISIONS)}")
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def free_memory(device: torch.device) -> int | None:
    """Bytes free on a CUDA device (what the model, its optimizer state and activations must
    fit in); None elsewhere, where the process' own memory is the limit (core.memory)."""
    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return int(free)
