"""`workbench new PROJECT --template NAME --data FILE`: a ready-to-train project fitted to a
data file.

The data is prepared once here, exactly as training will prepare it, so that the template is
sized from what the model will really see (features, image shape, vocabulary, classes) and a
bad file is reported now, not at the first epoch. The data path is stored relative to the
new project's folder, so the folder can move as a whole. Exit status: 0 written, 1 the
project exists (use --force), 2 bad arguments or unreadable data.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from workbench.core.templates import TEMPLATES
    p = sub.add_parser("new", help="write a ready-to-train project from a template and a data file",
                       description="Write a project fitted to a data file from a template:\n" +
                       "\n".join(f"  {k}: {v}" for k, v in TEMPLATES.items()),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("project", help="the .wbproj file to write (the suffix is added if missing)")
    p.add_argument("--template", required=True, metavar="NAME", help=", ".join(TEMPLATES))
    p.add_argument("--data", required=True, metavar="FILE", help="the training data (CSV/TSV/TXT)")
    p.add_argument("--test-data", metavar="FILE", help="a separate test file (e.g. test.txt)")
    p.add_argument("--target", metavar="COL", help="the target column (default: best guess)")
    p.add_argument("--input-shape", metavar="C,H,W", help="reshape numeric features to an image")
    p.add_argument("--name", help="the project's name (default: the file name)")
    p.add_argument("--force", action="store_true", help="overwrite an existing project file")
    p.set_defaults(func=run)


def _error(message, code: int) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from workbench.core import templates
    from workbench.core.project import save
    from workbench.data import DataError, DataSettings, prepare

    if args.template not in templates.TEMPLATES:
        return _error(f"unknown template '{args.template}'; choose one of: "
                      f"{', '.join(templates.TEMPLATES)}", 2)
    path = Path(args.project)
    if path.suffix != ".wbproj":
        path = path.with_name(path.name + ".wbproj")
    if path.exists() and not args.force:
        return _error(f"{path}: already exists (use --force to overwrite)", 1)
    folder = path.parent.resolve()

    def relative(file: str | None) -> str:
        return os.path.relpath(Path(file).resolve(), folder) if file else ""

    try:
        settings = DataSettings(path=relative(args.data), test_path=relative(args.test_data),
                                target=args.target or "", image_shape=args.input_shape or "")
        settings.validate()
        data = prepare(settings, folder)
        project = templates.build(args.template, shape_of(data), args.name or path.stem)
        data.bind(project.graph)
    except DataError as exc:
        return _error(exc, 2)
    except ValueError as exc:  # a template that does not fit the data (e.g. a CNN on flat rows)
        return _error(f"{args.template}: {exc}", 2)
    from workbench.core import analyse
    analysis = analyse(project.graph)
    if not analysis.valid:
        return _error(f"the {args.template} template does not fit this data: "
                      f"{analysis.errors[0].message}", 2)
    project.data = settings.to_dict()
    save(project, path)
    for warning in getattr(data, "warnings", []) or []:
        print(f"warning: {warning}", file=sys.stderr)
    classes = f", {len(data.classes)} classes" if data.task == "classification" else ""
    print(f"wrote {path}: {args.template}, {analysis.total_params:,} parameters; "
          f"{data.task}{classes}, input {','.join(map(str, data.input_shape))} "
          f"({data.input_dtype}), {int(data.train.y.shape[0]):,} training rows; "
          f"{project.training['epochs']} epochs, batch {project.training['batch_size']}")
    return 0


def shape_of(data):
    """The template's view of prepared data."""
    from workbench.core.templates import DataShape
    classify = data.task == "classification"
    return DataShape(input_shape=tuple(data.input_shape), input_dtype=data.input_dtype,
                     cardinality=data.cardinality, task=data.task,
                     num_classes=len(data.classes) if classify else 0,
                     target_shape=tuple(data.target_shape or ()), rows=int(data.train.y.shape[0]))
