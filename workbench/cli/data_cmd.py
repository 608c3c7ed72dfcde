"""`workbench data inspect FILE`: how Workbench reads a data file — delimiter, encoding, rows,
and per column its type, role and missing values, with the target's classes.

It runs exactly the code the app and training use, so what it prints is what training gets.
Bad files exit with status 2 and one line `error: ...` on stderr, never a traceback.
"""
from __future__ import annotations

import sys

CLASSES_SHOWN = 20  # a target with thousands of classes is listed by its first few


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="look at a data file the way training will read it",
                              description="Tools for data files (CSV, TSV, TXT).")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    q = sub.add_parser("inspect", help="delimiter, encoding, rows, column types/roles, classes",
                       description="Read FILE as training would and describe it: delimiter, "
                                   "encoding, rows, and per column the type, role and missing "
                                   "count, with the target's classes and their counts.")
    q.add_argument("file", metavar="FILE", help="a CSV, TSV or TXT file")
    q.add_argument("--target", metavar="COL", help="the target column (default: a column named "
                   "target/label/class/y, else the last)")
    q.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="what the target is for (default: guessed from the target column)")
    q.add_argument("--preview", type=int, metavar="N", default=0,
                   help="only read the first N rows (quick look at a big file)")
    q.add_argument("--json", action="store_true", help="print the description as JSON")
    q.set_defaults(func=run)


def run(args) -> int:
    from workbench.data import DataError, DataSettings, inspect, preview

    try:
        if args.preview:
            return _show_preview(preview(args.file, rows=args.preview), args.json)
        schema = inspect(args.file, target=args.target, settings=DataSettings(task=args.task))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, UnicodeError, ValueError) as exc:  # a reader failure not foreseen
        from workbench.data.errors import one_line
        print(f"error: {one_line(f'{args.file}: {exc}')}", file=sys.stderr)
        return 2
    if args.json:
        import json

        print(json.dumps(schema.to_dict(), indent=1, ensure_ascii=False))
        return 0
    print(_describe(schema))
    return 0


def _describe(schema) -> str:
    from workbench.data.errors import printable as _p

    info = schema.info
    lines = [f"file: {_p(schema.path)}",
             f"delimiter: {info.delimiter_name}   encoding: {info.encoding}   "
             f"header: {'yes' if info.has_header else 'no'}   rows: {schema.rows}"]
    width = max([len("column")] + [len(_p(c.name)) for c in schema.columns])
    lines.append(f"{'column':<{width}}  {'type':<11}  {'role':<7}  {'missing':>7}  distinct  note")
    for c in schema.columns:
        lines.append(f"{_p(c.name):<{width}}  {c.type:<11}  {c.role:<7}  {c.missing:>7}  "
                     f"{c.distinct:>8}  {_p(c.note)}".rstrip())
    targets = ", ".join(f"'{_p(t)}'" for t in schema.targets)
    if schema.classes is not None:
        shown = schema.classes[:CLASSES_SHOWN]
        counts = ", ".join(f"{_p(name)} {n}" for name, n in shown)
        if len(schema.classes) > len(shown):
            counts += f", … ({len(schema.classes) - len(shown)} more)"
        lines.append(f"target {targets}: classification, {len(schema.classes)} classes: {counts}")
    else:
        lines.append(f"target {targets}: regression")
    lines += [f"warning: {_p(' '.join(str(w).splitlines()))}" for w in schema.warnings]
    return "\n".join(lines)


def _show_preview(p, as_json: bool) -> int:
    if as_json:
        import json
        from dataclasses import asdict

        print(json.dumps({"path": p.info.path, "delimiter": p.info.delimiter,
                          "encoding": p.info.encoding, "has_header": p.info.has_header,
                          "rows_previewed": p.info.rows, "estimated_rows": p.estimated_rows,
                          "complete": p.complete, "columns": [asdict(c) for c in p.columns]},
                         indent=1, ensure_ascii=False))
        return 0
    info = p.info
    about = "rows" if p.complete else "rows (estimated)"
    lines = [f"file: {info.path}",
             f"delimiter: {info.delimiter_name}   encoding: {info.encoding}   "
             f"header: {'yes' if info.has_header else 'no'}   {about}: {p.estimated_rows}",
             f"first {info.rows} rows:"]
    from workbench.data.errors import printable as _p

    width = max([len("column")] + [len(_p(c.name)) for c in p.columns])
    lines.append(f"{'column':<{width}}  {'type':<11}  {'missing':>7}  examples")
    for c in p.columns:
        lines.append(f"{_p(c.name):<{width}}  {c.type:<11}  {c.missing:>7}  "
                     f"{_p(', '.join(c.examples))}")
    lines += [f"warning: {_p(' '.join(str(w).splitlines()))}" for w in info.warnings]
    print("\n".join(lines))
    return 0
