"""`workbench export`: export a trained run (ONNX, TorchScript, torch.export, Python code, or a
deployment bundle), verify it by reloading it, and print what was written and the figures."""
from __future__ import annotations

import sys
from pathlib import Path

FORMATS = ("onnx", "torchscript", "pt2", "python", "bundle", "cluster")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export a trained run (onnx, torchscript, pt2, python, bundle, cluster)",
        description="Export a trained run and verify the result against PyTorch at other batch "
                    "sizes and sequence lengths than it was exported with. TorchScript is "
                    "deprecated in PyTorch (kept for runtimes that still load it); torch.export "
                    "(pt2) is the first-class PyTorch format.")
    p.add_argument("project", help="the project file (the run folder's project.wbproj is what was trained)")
    p.add_argument("--run", required=True, metavar="RUNDIR", help="the run folder to export")
    p.add_argument("--format", required=True, choices=FORMATS,
                   help="onnx (verified in onnxruntime), torchscript, pt2 (torch.export), python "
                        "(model.py + train.py), bundle (model.onnx + preprocessing.json + predict.py)")
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="file (onnx, torchscript, pt2) or folder (python, bundle, cluster; a .zip path "
                        "zips the bundle)")
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
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        from workbench.export.api import export_run, save_report
        if args.prune is not None and not 0 < args.prune < 1:
            raise ValueError(f"--prune must be between 0 and 1, not {args.prune}")
        run_dir = Path(args.run)
        if not run_dir.is_dir():
            raise ValueError(f"{run_dir}: no such run folder")
        project = Path(args.project)
        project_dir = project.parent if project.suffix else project
        if args.format == "cluster":
            from workbench.export.cluster import write_cluster_bundle
            bundle = write_cluster_bundle(run_dir, args.output, args.nproc_per_node, args.nnodes,
                                          checkpoint=args.checkpoint)
            if args.json:
                save_report(bundle.report, args.json)
            print(bundle.summary())
            return 0 if bundle.passed else 1
        report = export_run(run_dir, args.format, args.output, quantize=args.quantize, prune=args.prune,
                            with_preprocessing=args.with_preprocessing, checkpoint=args.checkpoint,
                            project_dir=project_dir)
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
