"""Every model node type (built-in, the shipped plugin's and the docs' Swish example) exports
as Python and as ONNX, and the exported artefact computes what PyTorch computes, on the
verification's inputs (other batch sizes and lengths, padding, every id). So no list of which
nodes export is kept by hand: a spec that stops exporting fails here, by name."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from tests.core.test_catalog import MERGES, _graph_for
from workbench.core import Graph, analyse, catalog, compile_model
from workbench.core.plugins import REPO_PLUGINS, load_plugins
from workbench.core.spec import INPUT, MODEL

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    """Every model spec, with the repository's plugins and the docs' example plugin loaded."""
    folder = tmp_path_factory.mktemp("docs_plugin")
    example = re.search(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S).group(1)
    (folder / "my_layers.py").write_text(example, encoding="utf-8")
    loaded = load_plugins([REPO_PLUGINS, folder])
    assert all(p.ok for p in loaded), [(p.name, p.error) for p in loaded]
    found = {s.type: s for s in catalog.all_specs() if s.role == MODEL}
    assert {"GLU", "ResidualMLP", "Swish", "GlobalPool", "Embedding", "LSTM"} <= set(found)
    return found


def _model_for(spec):
    graph, _, analysis = _graph_for(spec)
    return compile_model(graph, analysis=analysis)


def test_every_spec_exports_as_python_and_matches_pytorch(specs, tmp_path):
    from workbench.export.python_code import write_model_code
    failed = {}
    for name, spec in specs.items():
        report = write_model_code(_model_for(spec), tmp_path / name)
        if not report.passed:
            failed[name] = report.summary()
    assert not failed, failed


def _padded_text_graph() -> Graph:
    """ids (batch, 12) -> Embedding -> mean over words skipping the padding id 0 -> Output."""
    g = Graph()
    x = g.add_node("Input", params={"shape": "12", "dtype": "int64", "cardinality": 30})
    emb = g.add_node("Embedding", params={"embedding_dim": 8})
    pool = g.add_node("GlobalPool", params={"skip_padding": True})
    out = g.add_node("Output")
    for a, b in [(x, emb), (emb, pool), (pool, out)]:
        g.connect(a.id, "out", b.id, "in")
    return g


def test_skip_padding_exports_as_python(specs, tmp_path):
    """The bug of issue 14: model.py dropped skip_padding and differed on padded input."""
    from workbench.export.python_code import import_file, write_model_code
    from workbench.export.verify import EDGE
    model = compile_model(_padded_text_graph(), seed=3)
    report = write_model_code(model, tmp_path)
    assert report.passed, report.summary()
    edge = [c for c in report.verification.checks if EDGE in c.sizes]
    assert edge and edge[0].sizes[EDGE] == 30 and edge[0].passed
    import torch
    loaded = import_file(tmp_path / "model.py", "_wb_skip_padding").load(tmp_path / "weights.pt")
    ids = torch.tensor([[5, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
    ours, theirs = loaded(ids), model.module.eval()(ids)
    assert torch.allclose(ours, theirs)
    # what the old model.py computed (padding counted in the mean) is far from it
    diluted = model.module.embedding(ids).mean(dim=1)
    assert not torch.allclose(diluted, theirs, atol=1e-3)


def test_the_old_skip_padding_bug_fails_verification(specs, tmp_path, monkeypatch):
    """Write SequencePool without its skip_padding, as the old per-class branch did: the
    verification must now say FAILED (the edge-case rows end in padding)."""
    from workbench.core.modules import SequencePool, init_arguments
    from workbench.export import python_code
    from workbench.export.verify import EDGE

    def dropped(m):
        args = init_arguments(m)
        return ((args[0][0],), {}) if isinstance(m, SequencePool) else args
    monkeypatch.setattr(python_code, "init_arguments", dropped)
    report = python_code.write_model_code(compile_model(_padded_text_graph(), seed=3), tmp_path)
    assert "SequencePool('mean')" in (tmp_path / "model.py").read_text(encoding="utf-8")
    assert not report.passed
    failed = [c for c in report.verification.checks if not c.passed]
    assert any(EDGE in c.sizes for c in failed)
    assert "verification FAILED" in report.summary()


def _group_graph(specs) -> Graph:
    """One graph with a branch Input -> node -> Output per spec (so one ONNX export covers many)."""
    g = Graph()
    for k, spec in enumerate(specs):
        small, node, _ = _graph_for(spec)
        inputs = [n for n in small.nodes.values() if n.spec.role == INPUT]
        ins = [g.add_node("Input", params={**n.params, "name": f"x{k}_{i}"}) for i, n in enumerate(inputs)]
        mid = g.add_node(spec.type, params=dict(node.params))
        g.connect(ins[0].id, "out", mid.id, spec.inputs[0].name)
        if spec.type in MERGES:
            g.connect(ins[1].id, "out", mid.id, "b")
        out = g.add_node("Output", params={"name": f"out{k}"})
        g.connect(mid.id, "out", out.id, "in")
    return g


def _by_input(specs) -> dict[str, list]:
    groups: dict[str, list] = {}
    for spec in specs:
        small, _, analysis = _graph_for(spec)
        first = next(n for n in small.nodes.values() if n.spec.role == INPUT)
        groups.setdefault(str(analysis.outputs[first.id]["out"]), []).append(spec)
    return groups


def test_every_spec_exports_to_onnx_and_matches_pytorch(specs, tmp_path):
    """Grouped by input type, one export per group (each export costs ~1 s of fixed work); a
    group that fails is exported spec by spec to name the culprit. This test is what says a
    node exports: no spec carries a hand-kept flag for it (the old `onnx_ok` is gone)."""
    from workbench.export.onnx_export import export_onnx
    warnings.filterwarnings("ignore")
    failed = {}
    for i, (kind, group) in enumerate(_by_input(specs.values()).items()):
        graph = _group_graph(group)
        report = export_onnx(compile_model(graph, analysis=analyse(graph)), tmp_path / f"group{i}.onnx")
        if report.passed:
            continue
        for spec in group:
            alone = export_onnx(_model_for(spec), tmp_path / f"{spec.type}.onnx")
            if not alone.passed:
                failed[spec.type] = alone.summary()
        failed.setdefault(kind, report.summary())
    assert not failed, failed
