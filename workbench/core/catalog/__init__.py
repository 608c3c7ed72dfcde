"""The node catalog: every node type's spec, by type name, in palette order.

Built-in specs register when this package is imported; plugins register theirs through
`register`. Old type names that were renamed map to new ones in `RENAMES`, so old project
files still load.
"""
from __future__ import annotations

from workbench.core.spec import NodeSpec

CATEGORIES = [
    "Input/Output", "Dense", "Convolution", "Pooling", "Recurrent", "Attention",
    "Normalisation", "Regularisation", "Reshape", "Activations", "Merge",
    "Losses", "Optimizers", "Schedules",
]

RENAMES: dict[str, str] = {}

_SPECS: dict[str, NodeSpec] = {}


class CatalogError(Exception):
    pass


def register(spec: NodeSpec, replace: bool = False) -> NodeSpec:
    """Add a spec; raises CatalogError if it is malformed or its type is taken."""
    if not spec.type or not spec.type.replace("_", "").isalnum():
        raise CatalogError(f"node type {spec.type!r} must be a plain name")
    if spec.type in _SPECS and not replace:
        raise CatalogError(f"node type '{spec.type}' is already registered")
    names = [p.name for p in spec.params]
    if len(set(names)) != len(names):
        raise CatalogError(f"{spec.type}: duplicate parameter names")
    for param in spec.params:
        try:
            param.check(param.default)
        except ValueError as exc:
            raise CatalogError(f"{spec.type}: default of {exc}") from None
    if spec.role in ("model", "input", "output", "target", "loss") and spec.infer is None:
        raise CatalogError(f"{spec.type}: a {spec.role} node needs a shape rule (infer)")
    if spec.category not in CATEGORIES:
        CATEGORIES.append(spec.category)
    _SPECS[spec.type] = spec
    return spec


def unregister(type_name: str) -> None:
    _SPECS.pop(type_name, None)


def find(type_name: str) -> NodeSpec | None:
    return _SPECS.get(RENAMES.get(type_name, type_name))


def get(type_name: str) -> NodeSpec:
    spec = find(type_name)
    if spec is None:
        raise KeyError(f"unknown node type '{type_name}'")
    return spec


def all_specs() -> list[NodeSpec]:
    return list(_SPECS.values())


def offered(spec: NodeSpec) -> bool:
    """Is the node type offered for adding by hand? `extra={"palette": False}` says no: the
    Opaque node only comes from an import (its call is written by an importer, not a person)."""
    return spec.extra.get("palette", True) is not False


def by_category(hidden: bool = False) -> dict[str, list[NodeSpec]]:
    """The specs by category, in palette order; without `hidden`, only those `offered` (what
    the palette and the canvas's Add Node menu list)."""
    groups: dict[str, list[NodeSpec]] = {c: [] for c in CATEGORIES}
    for spec in _SPECS.values():
        if hidden or offered(spec):
            groups.setdefault(spec.category, []).append(spec)
    return {c: specs for c, specs in groups.items() if specs}


from workbench.core.catalog import (  # noqa: E402,F401  (registers the built-in specs)
    io, layers, activations, merges, losses, optimizers, opaque)
