"""A project fitted to a data set: a template sized from the prepared data and bound to it.

Used by `workbench new` and by the app's New-from-template, so both build the same project;
and by the app to keep a graph fitted to its loaded data as nodes are added or rewired.
"""
from __future__ import annotations

from pathlib import Path

from workbench.data.errors import DataError
from workbench.data.settings import DataSettings


def shape_of(data):
    """The template's view of prepared data."""
    from workbench.core.templates import DataShape
    classify = data.task == "classification"
    return DataShape(input_shape=tuple(data.input_shape), input_dtype=data.input_dtype,
                     cardinality=data.cardinality, task=data.task,
                     num_classes=len(data.classes) if classify else 0,
                     target_shape=tuple(data.target_shape or ()), rows=int(data.train.y.shape[0]),
                     inputs=tuple((i.name, i.kind, tuple(i.shape), i.dtype, i.cardinality)
                                  for i in getattr(data, "inputs", None) or ()))


def fitted_project(template: str, settings: DataSettings, folder: str | Path, name: str):
    """(project, prepared data). Raises DataError for bad data or a template that does not fit."""
    from workbench.core import analyse, templates
    from workbench.data.prepared import prepare

    settings.validate()
    if template.endswith("-regressor") and settings.task == "auto":
        # a whole-number target with few values (linnerud's weights) would be guessed as
        # classes; the user who picked a regressor has said what the target is
        settings.task = "regression"
    data = prepare(settings, folder)
    if template == "multimodal" and not settings.inputs:
        settings.inputs = auto_groups(data.schema)
        data = prepare(settings, folder)
    try:
        project = templates.build(template, shape_of(data), name)
    except KeyError as exc:  # an unknown template
        raise DataError(str(exc).strip("'\"")) from None
    except ValueError as exc:  # a template that does not fit, e.g. a CNN on flat rows
        raise DataError(str(exc)) from None
    data.bind(project.graph)
    analysis = analyse(project.graph)
    if not analysis.valid:
        raise DataError(f"the {template} template does not fit this data: {analysis.errors[0].message}")
    project.data = settings.to_dict()
    return project, data


def auto_groups(schema) -> list[dict]:
    """Input groups by kind: the numbers and categories together, the text columns together,
    each image column alone (`workbench new --template multimodal`)."""
    features = [c for c in schema.columns if c.role == "feature"]
    groups = []
    table = [c.name for c in features if c.type not in ("text", "image")]
    text = [c.name for c in features if c.type == "text"]
    if table:
        groups.append({"name": "table", "columns": table})
    if text:
        groups.append({"name": "text", "columns": text})
    for i, c in enumerate(c for c in features if c.type == "image"):
        groups.append({"name": "image" if i == 0 else f"image_{i + 1}", "columns": [c.name]})
    if len(groups) < 2:
        kinds = ", ".join(sorted({c.type for c in features}))
        raise DataError(f"multimodal needs columns of two kinds (numbers or categories, text, "
                        f"images); this data has {kinds} only")
    return groups


# -- a graph kept fitted to the loaded data ------------------------------------------------

Change = tuple  # (node id, parameter, old value, new value)


def fit_changes(graph, data, node_ids=None) -> list[Change]:
    """What fitting `graph` to `data` changes, without changing it: the one rule is
    `PreparedData.bind` (first Input, first Target, the layer feeding the Output), run on a
    copy. node_ids: keep only the changes of these nodes (those an edit added or rewired)."""
    from workbench.core.graph import GraphError

    trial = graph.copy()
    try:
        changes = data.bind(trial)
    except GraphError:  # a value the node refuses: data_problems says so instead
        return []
    return [c for c in changes if node_ids is None or c[0] in node_ids]


def data_problems(graph, data) -> list:
    """Where the graph disagrees with the loaded data (a fitted value edited afterwards), as
    problems on those nodes: Validate and training refuse instead of silently training a
    model other than the one on screen."""
    from workbench.core.analysis import Problem

    problems = []
    for nid, name, old, new in fit_changes(graph, data):
        node = graph.nodes[nid]
        problems.append(Problem(nid, f"{node.label()}: {name} is {_shown(old)} but the loaded "
                                     f"data needs {_shown(new)}: set it to {_shown(new)} "
                                     "(or load other data)", training=True))
    return problems


def fit_notes(graph, data) -> list[tuple[str, str]]:
    """(node id, one line) per node that training on `data` would change, naming the old and
    the new values: the command line fits a project to its data but says so."""
    by_node: dict[str, list[str]] = {}
    for nid, name, old, new in fit_changes(graph, data):
        by_node.setdefault(nid, []).append(f"{name} {_shown(old)} → {_shown(new)}")
    return [(nid, f"{graph.nodes[nid].label()}: {', '.join(parts)} (fitted to the data)")
            for nid, parts in by_node.items()]


def _shown(value) -> str:
    return "(none)" if value in (None, "") else str(value)


class DataFit:
    """The loaded data's rules for an open project's graph. `data_source()` gives the
    PreparedData bound to the project now, or None (no data, or still loading)."""

    def __init__(self, data_source):
        self.data_source = data_source

    def changes(self, graph, node_ids) -> list[Change]:
        data = self.data_source()
        return fit_changes(graph, data, node_ids) if data is not None and node_ids else []

    def problems(self, graph) -> list:
        data = self.data_source()
        return data_problems(graph, data) if data is not None else []
