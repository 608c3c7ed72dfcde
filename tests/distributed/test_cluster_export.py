"""The exported train.py under torchrun, through the cluster bundle's own scripts: one node
with 2 processes, and 2 "nodes" (two torchrun agents on 127.0.0.1, static rendezvous)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys

import pytest
import torch

from tests.distributed.conftest import TORCHRUN, child_env


@pytest.fixture(scope="module")
def iris_run(iris_project, tmp_path_factory):
    from workbench.cli import main
    run = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", str(iris_project), "--epochs", "5", "--out", str(run)]) == 0
    return run


def _digest(state: dict) -> str:  # the exported train.py's weights_digest
    h = hashlib.sha256()
    for name, t in state.items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _losses(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"train loss ([0-9.]+)", text)]


def test_bundle_files_and_commands(iris_run, tmp_path):
    from workbench.export.cluster import write_cluster_bundle
    b = write_cluster_bundle(iris_run, tmp_path / "b", nproc_per_node=8, nnodes=4)
    assert b.passed
    names = {p.name for p in (tmp_path / "b").iterdir()}
    assert {"model.py", "weights.pt", "train.py", "preprocessing.json", "README.md", "COMMANDS.md",
            "run_single_node.sh", "run_multi_node.sh", "data"} <= names
    assert (tmp_path / "b" / "data" / "iris.csv").exists()
    assert b.commands["single_node"] == ("torchrun --standalone --nproc_per_node=8 train.py "
                                         "--data data/iris.csv --out trained.pt")
    multi = b.commands["multi_node"]
    for part in ("--nnodes=4", "--nproc_per_node=8", "--node_rank=$NODE_RANK",
                 "--rdzv_endpoint=$MASTER_ADDR:${MASTER_PORT:-29500}"):
        assert part in multi
    md = (tmp_path / "b" / "COMMANDS.md").read_text()
    assert b.commands["single_node"] in md and multi in md and "16 x 32 = 512" in md
    for script in ("run_single_node.sh", "run_multi_node.sh"):
        assert os.access(tmp_path / "b" / script, os.X_OK)
    assert "import workbench" not in (tmp_path / "b" / "train.py").read_text()


def test_bundle_from_an_untrained_project_and_the_cli(iris_project, iris_run, tmp_path):
    from workbench.cli import main
    from workbench.export.cluster import write_cluster_bundle
    b = write_cluster_bundle(iris_project, tmp_path / "p", nproc_per_node=2, nnodes=1)
    assert b.passed and (tmp_path / "p" / "preprocessing.json").exists()
    assert "--nnodes=2" in b.commands["multi_node"]           # nnodes 1: written for 2, as an example
    assert main(["export", str(iris_project), "--run", str(iris_run), "--format", "cluster",
                 "-o", str(tmp_path / "c"), "--nproc-per-node", "4", "--nnodes", "3"]) == 0
    assert "--nnodes=3 --nproc_per_node=4" in (tmp_path / "c" / "run_multi_node.sh").read_text()


def test_exported_train_py_on_one_node_with_two_processes(iris_run, tmp_path):
    from workbench.export.cluster import write_cluster_bundle
    folder = tmp_path / "b"
    write_cluster_bundle(iris_run, folder, nproc_per_node=2, nnodes=1)
    before = set(folder.rglob("*"))
    proc = subprocess.run([str(folder / "run_single_node.sh"), "--epochs", "12", "--init", "weights.pt"],
                          cwd=tmp_path, env=child_env(TORCHRUN=TORCHRUN), capture_output=True, text=True,
                          timeout=90)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert out.count("training on 2 processes (gloo, cpu): batch 16 per process, 32 in all") == 1
    assert out.count("epoch 12/12") == 1                              # rank 0 alone prints
    losses = _losses(out)
    assert len(losses) == 12 and losses[-1] < losses[0]
    digest = re.search(r"weights identical on all 2 ranks: sha256 ([0-9a-f]{64})", out).group(1)
    assert set(folder.rglob("*")) - before == {folder / "trained.pt"}  # one file written, once
    assert _digest(torch.load(folder / "trained.pt", weights_only=True)) == digest
    # plain python still trains in one process
    proc = subprocess.run([sys.executable, str(folder / "train.py"), "--epochs", "2", "--out",
                           str(tmp_path / "one.pt")], cwd=tmp_path, env=child_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "epoch 2/2" in proc.stdout and "processes" not in proc.stdout and (tmp_path / "one.pt").exists()


def test_exported_train_py_on_two_nodes(iris_run, tmp_path):
    from workbench.export.cluster import write_cluster_bundle
    folder = tmp_path / "b"
    write_cluster_bundle(iris_run, folder, nproc_per_node=1, nnodes=2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(TORCHRUN=TORCHRUN, MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    script = [str(folder / "run_multi_node.sh"), "--epochs", "6"]
    node1 = subprocess.Popen(script, cwd=tmp_path, env=child_env(NODE_RANK=1, **env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        node0 = subprocess.run(script, cwd=tmp_path, env=child_env(NODE_RANK=0, **env),
                               capture_output=True, text=True, timeout=90)
        out1, err1 = node1.communicate(timeout=30)
    finally:
        node1.kill()
    assert node0.returncode == 0 and node1.returncode == 0, node0.stderr[-2000:] + err1[-2000:]
    assert "training on 2 processes" in node0.stdout and "epoch" not in out1   # rank 0 is on node 0
    losses = _losses(node0.stdout)
    assert len(losses) == 6 and losses[-1] < losses[0]
    digest = re.search(r"weights identical on all 2 ranks: sha256 ([0-9a-f]{64})", node0.stdout).group(1)
    assert _digest(torch.load(folder / "trained.pt", weights_only=True)) == digest


def test_training_settings_are_read_typed_and_a_bad_one_is_named(iris_project, tmp_path):
    """cluster/python exports read the training dict through TrainingSettings: the values
    written are the project's, and a bad one is one line naming its key, never an int() error."""
    from workbench.core import project as project_file
    from workbench.export.cluster import write_cluster_bundle
    from workbench.export.onnx_export import ExportError
    project = project_file.load(iris_project)
    project.training.update(epochs=7, batch_size=24, seed=3)
    good = iris_project.with_name("typed.wbproj")
    project_file.save(project, good)
    write_cluster_bundle(good, tmp_path / "c", nproc_per_node=2, nnodes=2)
    train_py = (tmp_path / "c" / "train.py").read_text()
    assert "'epochs': 7," in train_py and "'batch_size': 24," in train_py and "'seed': 3," in train_py
    assert "24 x 4 = 96 rows" in (tmp_path / "c" / "COMMANDS.md").read_text()
    project.training["batch_size"] = "big"
    bad = iris_project.with_name("typed_bad.wbproj")
    project_file.save(project, bad)
    with pytest.raises(ExportError) as caught:
        write_cluster_bundle(bad, tmp_path / "d", nproc_per_node=2, nnodes=2)
    assert str(caught.value) == 'training.batch_size: expected a whole number >= 1, got "big"'
