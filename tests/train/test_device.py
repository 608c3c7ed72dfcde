"""Device and precision choice."""
import pytest
import torch

from workbench.train import device


def test_auto_and_named():
    auto = device.resolve("auto")
    assert auto.type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        assert auto.type in ("mps", "cpu")
    assert device.resolve("cpu") == torch.device("cpu")
    with pytest.raises(device.DeviceError, match="unknown device"):
        device.resolve("tpu")


def test_mixed_precision_only_on_cuda():
    cpu = torch.device("cpu")
    assert device.autocast_dtype(cpu, "bf16") is None and device.autocast_dtype(cpu, "fp16") is None
    with pytest.raises(device.DeviceError, match="precision"):
        device.autocast_dtype(cpu, "fp8")
    if torch.cuda.is_available():
        assert device.autocast_dtype(torch.device("cuda"), "fp16") == torch.float16


def test_core_train_imports_no_qt():
    import subprocess
    import sys
    code = ("import sys, workbench.train.trainer, workbench.cli.train_cmd, workbench.cli.new_cmd; "
            "sys.exit(any(m.startswith(('PySide6', 'PyQt')) for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
