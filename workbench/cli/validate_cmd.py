"""`workbench validate PROJECT`: the shape table, the parameter total and every problem."""
from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a project: shapes, parameters, problems",
                       description="Check a project file: print every node's output shape and "
                                   "parameter count, the total, and every problem. Exit status: "
                                   "0 valid, 1 problems found, 2 the file cannot be read.")
    p.add_argument("project", help="a .wbproj file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.core import ProjectError, analyse, load

    try:
        project = load(args.project)
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    analysis = analyse(project.graph, project.training)
    analysis.problems += _data_fit(project)
    analysis.problems += _weights_fit(project, analysis)
    print(report(project, analysis))
    return 0 if analysis.valid else 1


def _data_fit(project) -> list:
    """Warnings for what `workbench train` would fit to the project's data (none without data)."""
    from workbench.core.analysis import WARNING, Problem
    if not (project.data and project.data.get("path")):
        return []
    from workbench.data import DataError, DataSettings, prepare
    from workbench.data.fitted import fit_notes
    try:
        data = prepare(DataSettings.from_dict(project.data), project.folder)
    except DataError as exc:
        return [Problem(None, f"the data was not checked against the graph: {exc}", WARNING)]
    return [Problem(nid, note, WARNING) for nid, note in fit_notes(project.graph, data)]


def _weights_fit(project, analysis) -> list:
    """The project's own weights: the file as recorded (checksum, safetensors) is an error;
    a node they no longer fit is a warning (it would start from fresh weights)."""
    from workbench.core import weights
    from workbench.core.analysis import ERROR, WARNING, Problem
    if "weights" not in project.extra:
        return []
    try:
        tensors = weights.load(project)
    except weights.WeightsError as exc:
        return [Problem(None, str(exc), ERROR)]
    if any(not p.training for p in analysis.errors):
        return []   # the model does not compile: its problems are listed already
    from workbench.core.compile import CompileError, compile_model
    try:
        model = compile_model(project.graph, seed=0, class_name=project.name)
    except CompileError:
        return []
    problems = []
    for line in weights.apply(model, project.graph, tensors or {}):
        problems.append(Problem(None, f"weights: {line}", WARNING))
    unused = sorted({k.partition(".")[0] for k in tensors or {}} - set(model.submodules))
    if unused:
        problems.append(Problem(None, f"weights: {len(unused)} stored node(s) are not in the graph "
                                      f"({', '.join(unused[:5])}); their weights are ignored", WARNING))
    return problems


def report(project, analysis=None) -> str:
    from workbench.core import analyse

    graph = project.graph
    analysis = analysis or analyse(graph, project.training)
    order = analysis.order or list(graph.nodes)
    rows = [("node", "type", "output shape", "parameters")]
    for nid in order:
        node = graph.nodes[nid]
        outs = analysis.outputs.get(nid, {})
        shape = ", ".join(str(t) for t in outs.values()) if outs else "—"
        count = analysis.params.get(nid)
        rows.append((node.title, node.type, shape, f"{count:,}" if count is not None else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{project.name}", ""]
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"total parameters: {analysis.total_params:,}")
    if analysis.problems:
        lines.append("")
        for p in analysis.problems:
            where = f"[{graph.nodes[p.node_id].title}] " if p.node_id in graph.nodes else ""
            lines.append(f"{p.severity}: {where}{p.message}")
    lines.append("")
    lines.append(analysis.summary())
    return "\n".join(lines)
