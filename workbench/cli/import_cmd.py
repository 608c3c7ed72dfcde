"""`workbench import MODEL -o PROJECT.wbproj`: an ONNX file, a `.pt2` program or a PyTorch
module spec as an editable project with its weights beside it, checked against the source.

Exit status: 0 imported and matching, 1 imported but not matching (the project is still
written, and the output says so), 2 the model cannot be imported (one line, no traceback).
"""
from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import", help="import an ONNX, .pt2 or PyTorch model as a project",
        description="Import a model as an editable project: an .onnx file, a .pt2 program "
                    "(torch.export), or a PyTorch module as file.py:Class or "
                    "package.module:Class (constructed with no arguments; a .py file runs, "
                    "once, to build it). The weights are written beside the project "
                    "(PROJECT.weights.safetensors). The imported graph is run against the "
                    "source on random inputs. Exit status: 0 it matches, 1 it does not (the "
                    "project is still written), 2 it cannot be imported.")
    p.add_argument("model", help="MODEL.onnx, MODEL.pt2, file.py:Class or package.module:Class")
    p.add_argument("-o", "--output", required=True, metavar="PROJECT.wbproj",
                   help="the project file to write")
    p.add_argument("--input-shape", metavar="DIMS",
                   help="shape of one input sample without the batch, e.g. 3,32,32 "
                        "(needed for PyTorch modules)")
    p.add_argument("--force", action="store_true", help="replace an existing project file")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=run)


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        dims = tuple(int(d) for d in text.split(",") if d.strip())
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1:
        raise ValueError(f"--input-shape {text!r}: expected whole numbers above 0, e.g. 3,32,32")
    return dims


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workbench.importers import ImportError_, describe, import_model, write

    try:
        shape = parse_shape(args.input_shape)
        out = Path(args.output)
        if out.exists() and not args.force:   # before the (slow) import
            raise ImportError_(f"{out}: already exists (replace it with --force)")
        result = import_model(args.model, shape)
        written = write(result, out, force=args.force)
    except (ImportError_, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - what the importers did not foresee: one line, never a traceback
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        print(f"error: {args.model}: cannot import: {text}", file=sys.stderr)
        return 2
    figures = describe(result)
    figures["project"] = str(written)
    if args.json:
        import json
        diff = figures["max_diff"]
        if diff is not None and diff == float("inf"):
            figures["max_diff"] = "inf"             # JSON has no infinity
        print(json.dumps(figures, indent=1, ensure_ascii=False))
    else:
        for line in figures["report"]:
            print(line)
        diff = figures["max_diff"]
        print(f"nodes: {figures['nodes']}  parameters: {figures['parameters']:,}  "
              f"opaque: {figures['opaque']}  max difference: "
              f"{'—' if diff is None else f'{diff:.1e}'}")
        verdict = "matches the source" if figures["matched"] else \
            "DOES NOT MATCH the source (written anyway: check it before use)"
        print(f"wrote {written} and its weights; {verdict}")
    return 0 if figures["matched"] else 1
