"""`workbench import` end to end: a `file.py:Class` written here, imported through the CLI,
loaded back with its weights, validated and (once projects export from their own weights)
exported."""
from __future__ import annotations

import json
import textwrap

import pytest
import torch

from workbench.cli import main
from workbench.core import project as project_file
from workbench.core import weights
from workbench.importers.result import ImportResult, compiled

MODEL = textwrap.dedent("""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, classes=3):
            super().__init__()
            torch.manual_seed(5)
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
            self.head = nn.Linear(4 * 4 * 4, classes)

        def forward(self, x):
            return self.head(torch.flatten(self.features(x), 1))

    class NeedsArgs(nn.Module):
        def __init__(self, width):
            super().__init__()
""")


@pytest.fixture
def spec(tmp_path):
    (tmp_path / "net.py").write_text(MODEL)
    return f"{tmp_path / 'net.py'}:Net"


def _source():
    scope: dict = {}
    exec(MODEL, scope)  # the same class the CLI imported, for comparison
    return scope["Net"]().eval()


def test_import_writes_a_project_that_loads_validates_and_computes_the_module(spec, tmp_path, capsys):
    out = tmp_path / "net.wbproj"
    assert main(["import", spec, "-o", str(out), "--input-shape", "1,8,8"]) == 0
    printed = capsys.readouterr().out
    assert "nodes: 7  parameters: 235  opaque: 0  max difference: 0.0e+00" in printed
    assert f"wrote {out} and its weights; matches the source" in printed
    project = project_file.load(out)
    assert project.name == "Net"
    assert [n.type for n in project.graph.nodes.values()] == [
        "Input", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "Output"]
    tensors = weights.load(project)
    assert weights.weights_path(out).is_file() and project.extra["weights"]["file"] == "net.weights.safetensors"
    model = compiled(ImportResult(project, tensors))
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(model.module(x), _source()(x), atol=1e-6)
    # a model-only project: the only problems `validate` lists are the missing loss (training)
    code = main(["validate", str(out)])
    report = capsys.readouterr().out
    errors = [line for line in report.splitlines() if line.startswith("error:")]
    assert errors == ["error: [out] Output 'out' is not connected to a loss: add a loss (e.g. "
                      "CrossEntropy or MSE) to train the model"]
    assert code == 1


def test_json_figures(spec, tmp_path, capsys):
    assert main(["import", spec, "-o", str(tmp_path / "n.wbproj"), "--input-shape", "1,8,8", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["nodes"], figures["parameters"], figures["opaque"], figures["matched"]) == (7, 235, 0, True)


def test_existing_output_is_refused_without_force(spec, tmp_path, capsys):
    out = tmp_path / "net.wbproj"
    out.write_text("keep me")
    assert main(["import", spec, "-o", str(out), "--input-shape", "1,8,8"]) == 2
    assert capsys.readouterr().err == f"error: {out}: already exists (replace it with --force)\n"
    assert out.read_text() == "keep me"
    assert main(["import", spec, "-o", str(out), "--input-shape", "1,8,8", "--force"]) == 0
    assert project_file.load(out).name == "Net"


def test_a_mismatch_exits_1_and_still_writes(spec, tmp_path, capsys, monkeypatch):
    from workbench.importers import torch_import
    monkeypatch.setattr(torch_import, "relative_difference", lambda ours, theirs: 0.25)
    out = tmp_path / "net.wbproj"
    assert main(["import", spec, "-o", str(out), "--input-shape", "1,8,8"]) == 1
    printed = capsys.readouterr().out
    assert "does not match the source: max relative difference 2.5e-01" in printed
    assert "DOES NOT MATCH the source (written anyway: check it before use)" in printed
    assert out.is_file()


@pytest.mark.parametrize("args, message", [
    (["{dir}/missing.py:Net", "--input-shape", "4"], "{dir}/missing.py: no such file"),
    (["{dir}/net.py:Nope", "--input-shape", "4"], "{dir}/net.py:Nope: '{dir}/net.py' has no 'Nope'"),
    (["{dir}/net.py:Net"], "{dir}/net.py:Net: a PyTorch module needs the shape of one input sample "
                           "(e.g. --input-shape 3,32,32)"),
    (["{dir}/net.py:Net", "--input-shape", "1,x"], "--input-shape '1,x': expected whole numbers above 0, e.g. 3,32,32"),
    (["{dir}/model.h5"], "{dir}/model.h5: not a model Workbench can import (expected an .onnx or .pt2 "
                         "file, or a PyTorch module as file.py:Class or package.module:Class)"),
    (["{dir}/missing.pt2"], "{dir}/missing.pt2: no such file"),
    (["no_such_package_xyz.mod:Net", "--input-shape", "4"],
     "no_such_package_xyz.mod:Net: cannot import module 'no_such_package_xyz.mod': No module named 'no_such_package_xyz'"),
])
def test_bad_input_is_one_line_exit_2(spec, tmp_path, capsys, args, message):
    d = str(tmp_path)
    argv = ["import", *[a.format(dir=d) for a in args], "-o", str(tmp_path / "x.wbproj")]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"error: {message.format(dir=d)}\n"
    assert not (tmp_path / "x.wbproj").exists()


def test_a_class_that_needs_arguments(spec, tmp_path, capsys):
    bad = spec.replace(":Net", ":NeedsArgs")
    assert main(["import", bad, "-o", str(tmp_path / "x.wbproj"), "--input-shape", "4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: NeedsArgs() cannot be constructed without arguments (")
    assert err.count("\n") == 1


def test_wrong_input_shape_names_the_module(spec, tmp_path, capsys):
    assert main(["import", spec, "-o", str(tmp_path / "x.wbproj"), "--input-shape", "3,8,8"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {spec}: Net fails on an input of shape (2, 3, 8, 8) (float32): ")
    assert err.count("\n") == 1 and "Traceback" not in err


def _exports_from_project() -> bool:
    from workbench.export import api
    return hasattr(api, "export_project")


@pytest.mark.skipif(not _exports_from_project(), reason="needs WEIGHTS' export without --run")
def test_an_imported_project_exports_to_onnx_without_a_run(spec, tmp_path, capsys):
    import onnxruntime
    out = tmp_path / "net.wbproj"
    assert main(["import", spec, "-o", str(out), "--input-shape", "1,8,8"]) == 0
    onnx_path = tmp_path / "net.onnx"
    assert main(["export", str(out), "--format", "onnx", "-o", str(onnx_path)]) == 0
    capsys.readouterr()
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = torch.randn(3, 1, 8, 8)
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        want = _source()(x)
    assert float((torch.from_numpy(got) - want).abs().max() / want.abs().max()) <= 1e-4


def test_a_pt2_program_through_the_cli(tmp_path, capsys):
    model = _source()
    program = torch.export.export(model, (torch.randn(2, 1, 8, 8),),
                                  dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    torch.export.save(program, tmp_path / "net.pt2")
    out = tmp_path / "from_pt2.wbproj"
    assert main(["import", str(tmp_path / "net.pt2"), "-o", str(out), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["name"], figures["nodes"], figures["parameters"], figures["matched"]) == \
        ("net", 7, 235, True)
    assert [n.title for n in project_file.load(out).graph.nodes.values()] == \
        ["x", "features_0", "features_1", "features_2", "flatten", "head", "out"]


def test_a_package_module_spec(tmp_path, monkeypatch, capsys):
    package = tmp_path / "wb_test_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "vision.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "pkg.wbproj"
    assert main(["import", "wb_test_models.vision:Net", "-o", str(out), "--input-shape", "1,8,8"]) == 0
    assert "matches the source" in capsys.readouterr().out
    assert project_file.load(out).name == "Net"
