"""Export for a cluster: the project as plain PyTorch code that trains under torchrun, with its
data, its fitted preprocessing and the exact launch commands.

    write_cluster_bundle(run_or_project, folder, nproc_per_node=4, nnodes=2)

writes into `folder`:

    model.py, weights.pt      the model as plain PyTorch (weights: the run's, or the initial ones)
    train.py                  trains it; single process or under torchrun (DDP), torch + pandas only
    preprocessing.json        the fitted preprocessing train.py replays on the raw rows
    data/<file>               the training data file, which train.py reads by default
    run_single_node.sh        torchrun --standalone --nproc_per_node=N  (one machine, N GPUs)
    run_multi_node.sh         torchrun --nnodes=M --node_rank=$NODE_RANK ... (run on every node)
    COMMANDS.md, README.md    the commands, what changes with more processes

`run_or_project` is a run folder (its trained weights and fitted preprocessing) or a project
file (.wbproj, not trained yet: the preprocessing is fitted here exactly as training would,
the weights are the initial ones). Qt-free; the app's "Export for cluster…" dialog calls it.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.atomic import atomic_path, write_text
from workbench.export import escape
from workbench.export.onnx_export import ExportError
from workbench.export.report import ExportReport

DEFAULT_PORT = 29500


@dataclass
class ClusterBundle:
    folder: Path
    nproc_per_node: int
    nnodes: int
    commands: dict[str, str]              # "single_node" / "multi_node" -> the command line
    report: ExportReport                  # the Python code export (model.py verified by import)
    files: list[Path] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.report.passed

    def summary(self) -> str:
        lines = [f"exported cluster bundle to {self.folder}:"]
        lines += [f"  wrote {p.relative_to(self.folder)}" for p in self.files]
        if self.report.verification is not None:
            lines += self.report.verification.lines()
        lines += [f"warning: {w}" for w in self.report.warnings]
        lines += ["", f"one node, {self.nproc_per_node} GPU(s):", "  " + self.commands["single_node"],
                  "", f"{self.multi_nodes} nodes (run on every node, NODE_RANK=0 on MASTER_ADDR):",
                  "  " + self.commands["multi_node"]]
        return "\n".join(lines)

    @property
    def multi_nodes(self) -> int:
        return max(self.nnodes, 2)


def commands(nproc_per_node: int, nnodes: int, data: str = "data/DATA.csv",
             torchrun: str = "torchrun") -> dict[str, str]:
    """The launch lines, run from the bundle's folder. The multi-node line has placeholders
    ($MASTER_ADDR: node 0's address; $NODE_RANK: 0..nnodes-1; $MASTER_PORT) and uses the
    static rendezvous, so rank 0 (which prints and saves) is on node 0. nnodes < 2 writes the
    multi-node line for 2 nodes, as an example."""
    _check(nproc_per_node, nnodes)
    args = f"train.py --data {escape.shell(data)} --out trained.pt"
    single = f"{torchrun} --standalone --nproc_per_node={nproc_per_node} {args}"
    multi = (f"{torchrun} --nnodes={max(nnodes, 2)} --nproc_per_node={nproc_per_node} "
             f"--node_rank=$NODE_RANK --rdzv_backend=static "
             f"--rdzv_endpoint=$MASTER_ADDR:${{MASTER_PORT:-{DEFAULT_PORT}}} {args}")
    return {"single_node": single, "multi_node": multi}


def _check(nproc_per_node: int, nnodes: int) -> None:
    if int(nproc_per_node) < 1 or int(nnodes) < 1:
        raise ExportError(f"processes per node and nodes must be at least 1 (got {nproc_per_node}, {nnodes})")


def data_argument(run_or_project: str | Path) -> str:
    """train.py's --data in the bundle (`data/<file name>`), read from the project file only."""
    from workbench.core import project as project_file
    path = Path(run_or_project)
    try:
        project = project_file.load(path / "project.wbproj" if path.is_dir() else path)
        name = Path(str((project.data or {}).get("path") or "DATA.csv")).name
    except Exception:  # noqa: BLE001 - a preview; writing the bundle reports the real problem
        name = "DATA.csv"
    return f"data/{name}"


def load_source(run_or_project: str | Path, checkpoint: str = "best"):
    """A RunInfo for a run folder, or for a project file (initial weights, fitted preprocessing)."""
    from workbench.export.run import RunInfo, load
    path = Path(run_or_project)
    if path.is_dir():
        if (path / "project.wbproj").exists() and any(path.glob("*.pt")):
            return load(path, checkpoint)
        raise ExportError(f"{path}: not a run folder (no project.wbproj and checkpoint); pass a run "
                          "folder or a .wbproj project file")
    from workbench.core import project as project_file
    from workbench.core.compile import compile_model
    from workbench.data import DataSettings, prepare
    from workbench.export.python_code import training_settings
    project = project_file.load(path)
    if not project.data or not project.data.get("path"):
        raise ExportError(f"{path}: the project names no data file")
    data = prepare(DataSettings.from_dict(project.data), project.folder)
    data.bind(project.graph)
    model = compile_model(project.graph, seed=training_settings(project).seed, class_name=project.name)
    model.module.eval()
    meta = {"preprocessing": data.preprocessor.to_dict(), "classes": data.classes, "task": data.task}
    return RunInfo(project.folder, project, model, meta, "initial")


def write_cluster_bundle(run_or_project: str | Path, folder: str | Path, nproc_per_node: int = 1,
                         nnodes: int = 1, *, checkpoint: str = "best", copy_data: bool = True) -> ClusterBundle:
    """Write the code, data, preprocessing and launch scripts; see the module docstring."""
    from workbench.export.python_code import source_data_path, write_python
    _check(nproc_per_node, nnodes)
    run = load_source(run_or_project, checkpoint)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source = source_data_path(run)
    if not source or not Path(source).exists():
        raise ExportError(f"the training data file {source or '(none)'} is not there to copy")
    if copy_data:
        (folder / "data").mkdir(exist_ok=True)
        target = folder / "data" / Path(source).name
        if Path(source).resolve() != target.resolve():
            with atomic_path(target) as tmp:
                shutil.copyfile(source, tmp)
        data_arg = f"data/{target.name}"
    else:
        data_arg = source
    try:
        cmds = commands(nproc_per_node, nnodes, data_arg)
    except ValueError as exc:
        raise ExportError(f"the data file name: {exc}") from None
    report = write_python(run, folder, data_path=data_arg)
    if not (folder / "train.py").exists():
        raise ExportError("train.py could not be written: " + "; ".join(report.warnings))
    bundle = ClusterBundle(folder, int(nproc_per_node), int(nnodes), cmds, report)
    files = [*(p for p in report.paths), *([folder / data_arg] if copy_data else [])]
    files += _write_scripts(bundle, data_arg, run)
    bundle.files = [Path(p) for p in files]
    return bundle


def _script(comment: str, checks: str, line: str) -> str:
    return f"""#!/usr/bin/env bash
{comment}
# Extra arguments go to train.py (e.g. --epochs 50 --batch-size 64 --lr 0.001 --device cpu).
# TORCHRUN may name another launcher, e.g. TORCHRUN="python -m torch.distributed.run".
set -euo pipefail
cd "$(dirname "$0")"
{checks}exec ${{TORCHRUN:-torchrun}} {line.removeprefix('torchrun ')} "$@"
"""


def _write_scripts(bundle: ClusterBundle, data_arg: str, run) -> list[Path]:
    folder, n, m = bundle.folder, bundle.nproc_per_node, bundle.multi_nodes
    single = _script(f"# One machine, {n} GPU(s) (on a machine without GPUs: {n} CPU processes, Gloo).",
                     "", bundle.commands["single_node"])
    multi = _script(
        f"# {m} machines x {n} GPU(s). Copy this folder to every node (same path or not), then run\n"
        f"# this script on each, with MASTER_ADDR = node 0's address (reachable from all nodes),\n"
        f"# NODE_RANK = 0 on that node and 1..{m - 1} on the others, and the same MASTER_PORT.",
        ': "${MASTER_ADDR:?set MASTER_ADDR to the address of node 0}"\n'
        f': "${{NODE_RANK:?set NODE_RANK: 0 on node $MASTER_ADDR, 1..{m - 1} on the others}}"\n',
        bundle.commands["multi_node"])
    out = []
    for name, text in (("run_single_node.sh", single), ("run_multi_node.sh", multi)):
        path = write_text(folder / name, text)
        path.chmod(0o755)
        out.append(path)
    out.append(write_text(folder / "COMMANDS.md", _commands_md(bundle, data_arg, run)))
    return out


def _commands_md(bundle: ClusterBundle, data_arg: str, run) -> str:
    n, m = bundle.nproc_per_node, bundle.multi_nodes
    from workbench.export.python_code import training_settings
    batch = training_settings(run.project).batch_size
    single = escape.markdown_code_block(bundle.commands["single_node"])
    multi = escape.markdown_code_block(f"export MASTER_ADDR=<node-0-address> MASTER_PORT={DEFAULT_PORT} "
                                       f"NODE_RANK=<0..{m - 1}>\n" + bundle.commands["multi_node"])
    return f"""# Training {escape.markdown(run.project.name)} on a cluster

Everything here needs only Python with PyTorch, numpy and pandas (`pip install torch numpy
pandas`); Workbench is not needed. Run the commands from this folder.

## One machine, {n} GPU(s)

{single}

or `./run_single_node.sh`. torchrun starts {n} processes; each uses GPU number LOCAL_RANK
(NCCL). On a machine without GPUs the same command runs {n} CPU processes (Gloo).

## {m} machines, {n} GPU(s) each

Copy this folder to every machine. On each, run:

{multi}

or `MASTER_ADDR=<node-0-address> NODE_RANK=<0..{m - 1}> ./run_multi_node.sh`, with NODE_RANK=0 on
the machine whose address is MASTER_ADDR. The machines must reach MASTER_ADDR:MASTER_PORT and each
other over TCP. Rank 0 (on node 0) prints the progress and writes `trained.pt`. For an elastic
job (machines may join late or be replaced), use `--rdzv_backend=c10d
--rdzv_endpoint=<node-0-address>:{DEFAULT_PORT} --rdzv_id=<job name>` instead of the static
rendezvous and drop `--node_rank` (rank 0 may then land on any node).

## What changes with more processes

- `--batch-size` is per process: with the project's {batch} and {n} x {m} processes, each
  optimizer step averages the gradients of {batch} x {n * m} = {batch * n * m} rows. Fewer steps per epoch;
  if the results get worse, scale the learning rate with the effective batch (linearly, e.g.
  `--lr` x {n * m}, with a warm-up for large factors) or lower `--batch-size`.
- Each process reads the whole data file ({escape.markdown_code(data_arg)}) and trains on its shard of the rows,
  reshuffled every epoch; the losses and accuracy printed are over all rows.
- The weights at the end are the same on every rank (checked and printed at the end).
- A rank that fails makes the others stop: torchrun ends the job, and a rank waiting on a
  silent peer gives up after TRAIN_DIST_TIMEOUT seconds (default 120).

## What does not change

The model (`model.py`), the preprocessing (`preprocessing.json`), the loss and the optimizer are
the project's; `python train.py` alone still trains in one process.
"""
