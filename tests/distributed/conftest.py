"""Fixtures for the distributed tests: a small iris project (from `workbench new`), and a
torchrun launcher for child processes on the CPU (Gloo, loopback only, one thread each)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA

BIN = Path(sys.executable).parent
TORCHRUN = str(BIN / "torchrun")


def child_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WORKBENCH_DIST_", "TRAIN_DIST_", "MASTER_", "RANK", "LOCAL_RANK",
                                "WORLD_SIZE", "TORCHELASTIC"))}
    env.update(OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo", PYTHONUNBUFFERED="1",
               PYTHONPATH=str(Path(__file__).resolve().parents[2]), WORKBENCH_NO_SETTINGS="1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def torchrun(args: list[str], *, cwd: Path, timeout: float = 90, nproc: int = 2, **env):
    """`torchrun --standalone --nproc_per_node=N ARGS` (127.0.0.1), output captured."""
    cmd = [TORCHRUN, "--standalone", f"--nproc_per_node={nproc}", "--local-addr=127.0.0.1", *args]
    return subprocess.run(cmd, cwd=cwd, env=child_env(**env), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def iris_project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("iris")
    shutil.copy(DATA / "iris.csv", folder / "iris.csv")
    from workbench.cli import main
    assert main(["new", str(folder / "iris.wbproj"), "--template", "mlp-classifier",
                 "--data", str(folder / "iris.csv")]) == 0
    return folder / "iris.wbproj"
