"""A project fitted to a data set: a template sized from the prepared data and bound to it.

Used by `workbench new` and by the app's New-from-template, so both build the same project.
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
                     target_shape=tuple(data.target_shape or ()), rows=int(data.train.y.shape[0]))


def fitted_project(template: str, settings: DataSettings, folder: str | Path, name: str):
    """(project, prepared data). Raises DataError for bad data or a template that does not fit."""
    from workbench.core import analyse, templates
    from workbench.data.prepared import prepare

    settings.validate()
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
