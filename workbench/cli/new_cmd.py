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
    p.add_argument("--template", metavar="NAME",
                   help=", ".join(TEMPLATES) + " (default for an image folder: image-classifier)")
    p.add_argument("--data", required=True, metavar="FILE",
                   help="the training data (CSV/TSV/TXT, or a folder of class sub-folders of images)")
    p.add_argument("--test-data", metavar="FILE", help="a separate test file (e.g. test.txt)")
    p.add_argument("--target", metavar="COL", help="the target column (default: best guess)")
    p.add_argument("--input-shape", metavar="C,H,W", help="reshape numeric features to an image")
    p.add_argument("--ignore", metavar="COL", action="append", default=[],
                   help="leave a column out of the features (repeatable)")
    p.add_argument("--balance", action="store_true",
                   help="weigh the loss by class (class_weight = balanced), for rare classes")
    p.add_argument("--name", help="the project's name (default: the file name)")
    p.add_argument("--force", action="store_true", help="overwrite an existing project file")
    p.set_defaults(func=run)


def _error(message, code: int) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from workbench.core import templates
    from workbench.core.project import save
    from workbench.data import DataError, DataSettings
    from workbench.data.fitted import fitted_project

    if args.template is None:
        if not Path(args.data).is_dir():
            return _error("--template NAME is needed for a data file; choose one of: "
                          f"{', '.join(templates.TEMPLATES)}", 2)
        args.template = "image-classifier"
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
                                target=args.target or "", image_shape=args.input_shape or "",
                                roles={col: "ignore" for col in args.ignore})
        project, data = fitted_project(args.template, settings, folder, args.name or path.stem)
    except DataError as exc:
        return _error(exc, 2)
    balanced = ""
    if args.balance:
        from workbench.data.balance import class_weight_changes
        changes = class_weight_changes(project.graph)
        if data.task != "classification" or not changes:
            return _error(f"--balance weighs classes: the {args.template} template on this data "
                          f"is {data.task} with no loss that takes class weights", 2)
        for nid, name, _, value in changes:
            project.graph.set_param(nid, name, value)
        balanced = ", classes weighted (balanced)"
    from workbench.core import analyse
    from workbench.core.training_settings import TrainingSettings
    analysis = analyse(project.graph)
    training = TrainingSettings.from_dict(project.training)  # the template's own: always valid
    save(project, path)
    # The first line says which target was used, and why when it was guessed: a wrong guess
    # (`year` for penguins) is caught here, not after training.
    print(f"wrote {path}: {_target_text(data)}; {_data_text(data)}; {args.template}, "
          f"{analysis.total_params:,} parameters; {training.epochs} epochs, "
          f"batch {training.batch_size}{balanced}")
    for warning in getattr(data, "warnings", []) or []:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _target_text(data) -> str:
    schema = data.schema
    if schema is None:
        return "target chosen"
    names = ", ".join(f"'{t}'" for t in schema.targets)
    why = schema.column(schema.target).note
    return f"target {names} ({why}; --target COL to choose another)" if why else f"target {names}"


def _data_text(data) -> str:
    classes = f", {len(data.classes)} classes" if data.task == "classification" else ""
    inputs = getattr(data, "inputs", None) or []
    if len(inputs) > 1:
        shown = ", ".join(f"{i.name} {','.join(map(str, i.shape))} ({i.kind})" for i in inputs)
        what = f"inputs {shown}"
    else:
        what = f"input {','.join(map(str, data.input_shape))} ({data.input_dtype})"
    return f"{data.task}{classes}, {what}, {int(data.train.y.shape[0]):,} training rows"
