"""`workbench export`: export a trained run in one of the registered formats
(workbench.export.formats), verify it by reloading it, and print what was written and the figures."""
from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    from workbench.export import formats
    known = formats.all_formats()
    files = [f.name for f in known if not f.folder]
    folders = [f.name for f in known if f.folder]
    zips = formats.accepting(formats.ZIP)
    p = subparsers.add_parser(
        "export", help=f"export a trained run ({', '.join(formats.names())})",
        description="Export a trained run and verify the result against PyTorch at other batch "
                    "sizes and sequence lengths than it was exported with. TorchScript is "
                    "deprecated in PyTorch (kept for runtimes that still load it); torch.export "
                    "(pt2) is the first-class PyTorch format.")
    p.add_argument("project", help="the project file the run was trained from (checked against the "
                                   "run folder's project.wbproj, which is what was trained)")
    p.add_argument("--run", metavar="RUNDIR",
                   help="the run folder to export (without it: the project's own weights, e.g. "
                        "an imported model's, in onnx, pt2 or torchscript)")
    p.add_argument("--format", required=True, choices=formats.names(),
                   help="; ".join(f"{f.help}, checked by {f.verify}" for f in known))
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help=f"file ({', '.join(files)}) or folder ({', '.join(folders)}"
                        + (f"; a .zip path zips the {' or '.join(zips)}" if zips else "") + ")")
    p.add_argument("--quantize", choices=("int8",), help="also write an int8 dynamically quantised ONNX model")
    p.add_argument("--prune", type=float, metavar="AMOUNT",
                   help="magnitude-prune this share of the weights (0-1) before exporting")
    p.add_argument("--with-preprocessing", action="store_true",
                   help="build numeric scaling and category maps into the ONNX model (raw columns in)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best",
                   help="which checkpoint of the run (default: best)")
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    p.add_argument("--nproc-per-node", type=int, default=1, metavar="N",
                   help="cluster: GPUs (processes) per node in the torchrun commands (default 1)")
    p.add_argument("--nnodes", type=int, default=1, metavar="M",
                   help="cluster: machines in the multi-node command (default 1: written for 2)")
    p.set_defaults(func=run, parser=p)


def check_project(project: Path, run_dir: Path) -> None:
    """PROJECT must be the project the run was trained from: same layers, same parameters,
    same connections (positions and titles may have moved since)."""
    from workbench.core import project as project_file
    trained = project_file.load(run_dir / "project.wbproj")
    given = project_file.load(project)
    if _model(given.graph) != _model(trained.graph):
        raise ValueError(f"{project}: not the project run {run_dir.name} was trained from (its model "
                         f"differs from {run_dir / 'project.wbproj'}); pass that project or the run's own")


def _model(graph) -> tuple:
    doc = graph.to_dict()
    nodes = sorted((n["id"], n["type"], sorted(n["params"].items(), key=str)) for n in doc["nodes"])
    edges = sorted((tuple(e["from"]), tuple(e["to"])) for e in doc["edges"])
    return repr(nodes), edges


def run(args) -> int:
    if args.run is None:
        return _from_project(args)
    return _reported(args, lambda: _from_run(args))


def _reported(args, export) -> int:
    """Run `export()`, save its JSON report if asked, print its summary: one line, never a
    traceback, for anything that goes wrong."""
    try:
        from workbench.export.api import save_report
        report = export()
        if args.json:
            save_report(report, args.json)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - one line for the user, never a traceback
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {text}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.passed else 1


def _from_run(args):
    from workbench.export.api import export_run
    if args.prune is not None and not 0 < args.prune < 1:
        raise ValueError(f"--prune must be between 0 and 1, not {args.prune}")
    run_dir = Path(args.run)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: no such run folder")
    project = Path(args.project)
    if project.is_dir():
        project = project / "project.wbproj"
    if not project.is_file():
        raise ValueError(f"{project}: no such project file")
    if (run_dir / "project.wbproj").is_file():
        check_project(project, run_dir)
    return export_run(run_dir, args.format, args.output, quantize=args.quantize, prune=args.prune,
                      with_preprocessing=args.with_preprocessing, checkpoint=args.checkpoint,
                      project_dir=project.parent, nproc_per_node=args.nproc_per_node,
                      nnodes=args.nnodes)


def _from_project(args) -> int:
    """No --run: a project with weights of its own exports from them; one without gets the
    message --run's absence always gave."""
    from workbench.core import project as project_file
    project = Path(args.project)
    try:
        loaded = project_file.load(project) if project.is_file() else None
    except project_file.ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if loaded is None or "weights" not in loaded.extra:
        args.parser.error("the following arguments are required: --run")

    def export():
        from workbench.export.api import export_project
        asked = [flag for flag, on in (("--quantize", args.quantize), ("--prune", args.prune is not None),
                                       ("--with-preprocessing", args.with_preprocessing)) if on]
        if asked:
            raise ValueError(f"{' and '.join(asked)} need a trained run (--run RUNDIR); the "
                             "project's own weights export as they are")
        return export_project(loaded, args.format, args.output)
    return _reported(args, export)
