"""The Opaque node, torch flavour: only allowlisted calls run, its stored tensors are its
parameters/buffers under their own names, its shape comes from a meta-device run, and it
trains like any layer."""
from __future__ import annotations

import json

import pytest
import torch

from workbench.core import Graph, analyse, catalog, compile_model, weights
from workbench.core import opaque as O
from workbench.core.compile import CompileError
from workbench.core.project import loads


@pytest.mark.parametrize("target", [
    "torch.einsum", "torch.erf", "torch.nn.functional.pixel_shuffle", "torch.special.erf",
    "torch.linalg.vector_norm", "operator.mul", "operator.getitem", "Tensor.permute",
    "torch.Tensor.flatten", "torch.ops.aten.grid_sampler_2d.default", "aten._softmax.default"])
def test_allowed_targets_resolve(target):
    assert callable(O.resolve(target))


@pytest.mark.parametrize("target", [
    "os.system", "builtins.eval", "eval", "subprocess.run", "torch.load", "torch.save",
    "torch.from_file", "torch.hub.load", "torch.jit.load", "torch.compile",
    "torch.utils.cpp_extension.load_inline", "torch.ops.load_library", "torch.manual_seed",
    "torch.set_default_device", "torch.nn.functional.importlib", "torch.nn.functional.np",
    "torch.nn.functional.torch", "torch.nn.functional.handle_torch_function", "Tensor.numpy",
    "Tensor.apply_", "Tensor.register_hook", "Tensor.backward", "Tensor.__reduce_ex__",
    "Tensor._make_subclass", "operator.methodcaller", "operator.attrgetter", "operator.call",
    "torch.ops.aten.from_file.default", "torch.ops.aten.save", "torch.ops.aten.__class__",
    "torch.ops.aten.add.nosuchoverload", "torch.nn.Module", "torch.Tensor", "torch.__import__",
    "torch.einsum; import os", "torch..einsum"])
def test_everything_else_is_refused_in_one_line(target):
    with pytest.raises(O.OpaqueError) as caught:
        O.resolve(target)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("cannot run")


def test_the_refusal_names_the_target_and_what_is_allowed():
    with pytest.raises(O.OpaqueError, match=r"^cannot run 'os\.system': not an allowed operation "
                                            r"\(allowed: torch\.<tensor function>"):
        O.resolve("os.system")


def test_tensor_names_are_plain_identifiers():
    assert O.tensor_name("layer1.0.conv/weight:0") == "layer1_0_conv_weight_0"
    assert O.tensor_name("0.scale") == "t_0_scale"
    assert O.tensor_name("forward") == "forward_" and O.tensor_name("") == "t"
    with pytest.raises(O.OpaqueError, match="use tensor_name"):
        O.torch_params("torch.mul", [{"input": 0}, {"tensor": "a.b"}], {}, {"a.b": torch.ones(1)})


def test_templates_must_refer_to_what_the_node_has():
    with pytest.raises(O.OpaqueError, match="is not an input, a stored tensor"):
        O.torch_params("torch.mul", [{"input": 0}, {"tensor": "missing"}], {}, {})
    with pytest.raises(O.OpaqueError, match="only float tensors can train"):
        O.torch_params("torch.add", [{"input": 0}, {"tensor": "i"}], {}, {"i": torch.ones(2, dtype=torch.int64)},
                       trainable={"i"})


def _graph(einsum_w: torch.Tensor):
    """x (8) -> einsum with a trainable w (8, 6) -> reshape to (24, 1, 2) -> pixel_shuffle-like
    step on an image input; plus a buffer-only Opaque scaling by a frozen tensor."""
    g = Graph()
    x = g.add_node("Input", params={"name": "x", "shape": "8"})
    img = g.add_node("Input", params={"name": "img", "shape": "8,3,5"})
    ein = g.add_node("Opaque", title="mix", params=O.torch_params(
        "torch.einsum", ["bi,ij->bj", {"input": 0}, {"tensor": "w"}], {}, {"w": einsum_w},
        trainable={"w"}, reason="no Workbench node for einsum"))
    scale = g.add_node("Opaque", title="scale", params=O.torch_params(
        "operator.mul", [{"input": 0}, {"tensor": "s"}], {}, {"s": torch.ones(6)}))
    shuf = g.add_node("Opaque", title="shuffle", params=O.torch_params(
        "torch.nn.functional.pixel_shuffle", [{"input": 0}], {"upscale_factor": 2}, {},
        reason="no Workbench node for PixelShuffle"))
    y, z = g.add_node("Output", params={"name": "y"}), g.add_node("Output", params={"name": "z"})
    for a, b, port in [(x, ein, "x0"), (ein, scale, "x0"), (scale, y, "in"), (img, shuf, "x0"), (shuf, z, "in")]:
        g.connect(a.id, "out", b.id, port)
    return g, ein, scale, shuf


def test_opaque_nodes_infer_compile_and_compute_the_call():
    w = torch.randn(8, 6)
    g, ein, scale, shuf = _graph(w)
    a = analyse(g)
    assert not [p for p in a.errors if not p.training]
    assert a.outputs[ein.id]["out"].shape == ("batch", 6)
    assert a.outputs[shuf.id]["out"].shape == ("batch", 2, 6, 10)
    assert a.params[ein.id] == 48 and a.params[scale.id] == 0
    model = compile_model(g)
    assert set(model.module.state_dict()) == {"mix.w", "scale.s"}
    tensors = {f"{ein.id}.w": w, f"{scale.id}.s": torch.full((6,), 2.0)}
    assert weights.apply(model, g, tensors) == []
    x, img = torch.randn(3, 8), torch.randn(3, 8, 3, 5)
    feed = {"x": x, "img": img}
    out = dict(zip(model.output_names, model.module(*[feed[n] for n in model.input_names])))
    y, z = out["y"], out["z"]
    assert torch.allclose(y, 2 * torch.einsum("bi,ij->bj", x, w))
    assert torch.equal(z, torch.nn.functional.pixel_shuffle(img, 2))


def test_opaque_parameters_train_and_buffers_stay():
    g, ein, scale, _ = _graph(torch.randn(8, 6))
    model = compile_model(g, seed=1)
    weights.apply(model, g, {f"{ein.id}.w": torch.randn(8, 6), f"{scale.id}.s": torch.full((6,), 0.5)})
    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    params = [p for p in model.module.parameters() if p.requires_grad]
    assert [p.shape for p in params] == [torch.Size([8, 6])]
    opt = torch.optim.SGD(params, lr=0.1)
    x, img, target = torch.randn(16, 8), torch.randn(16, 8, 3, 5), torch.randn(16, 6)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        feed = {"x": x, "img": img}
        out = dict(zip(model.output_names, model.module(*[feed[n] for n in model.input_names])))
        loss = torch.nn.functional.mse_loss(out["y"], target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    after = model.module.state_dict()
    assert not torch.equal(before["mix.w"], after["mix.w"]) and losses[-1] < losses[0]
    assert torch.equal(before["scale.s"], after["scale.s"])


def test_a_file_naming_a_forbidden_call_is_refused_by_name():
    g, ein, _, _ = _graph(torch.randn(8, 6))
    doc = {"format_version": 1, "name": "evil", "graph": g.to_dict()}
    node = next(n for n in doc["graph"]["nodes"] if n["id"] == ein.id)
    node["params"]["call"] = json.dumps({"target": "os.system", "args": ["touch /tmp/pwned"], "kwargs": {}})
    project = loads(json.dumps(doc))  # the file loads: it is data
    problems = analyse(project.graph).problems_of(ein.id)
    assert problems and problems[0].message.endswith(
        "cannot run 'os.system': not an allowed operation (allowed: " + O.ALLOWED + ")")
    with pytest.raises(CompileError, match="os.system"):
        compile_model(project.graph)


def test_shape_problems_name_the_op_and_port_order_matters():
    g = Graph()
    x = g.add_node("Input", params={"shape": "7,3,3"})
    shuf = g.add_node("Opaque", params=O.torch_params("torch.nn.functional.pixel_shuffle",
                                                      [{"input": 0}, 2], {}, {}))
    g.connect(x.id, "out", shuf.id, "x0")
    message = analyse(g).problems_of(shuf.id)[0].message
    assert "torch.nn.functional.pixel_shuffle fails on inputs (batch, 7, 3, 3)" in message
    two = g.add_node("Opaque", params=O.torch_params("torch.add", [{"input": 0}, {"input": 1}], {}, {}))
    g.connect(x.id, "out", two.id, "x0")
    assert "reads input x1: connect x0 to x1" in analyse(g).problems_of(two.id)[0].message
    g.connect(x.id, "out", two.id, "x2")
    assert "without a gap" in analyse(g).problems_of(two.id)[0].message


def test_opaque_is_not_offered_in_the_palette():
    listed = {s.type for specs in catalog.by_category().values() for s in specs}
    assert "Opaque" not in listed and "Linear" in listed
    assert "Opaque" in {s.type for s in catalog.by_category(hidden=True)["Imported"]}


def methods_graph():
    """x (4, 6) -> x[:, 1:3, ::2] -> .permute(0, 2, 1) -> torch.max(dim=-1)[0] (pick)."""
    g = Graph()
    x = g.add_node("Input", params={"name": "x", "shape": "4,6"})
    cut = g.add_node("Opaque", title="cut", params=O.torch_params(
        "operator.getitem", [{"input": 0}, [{"slice": [None, None, None]}, {"slice": [1, 3, None]},
                                            {"slice": [None, None, 2]}]], {}, {}))
    perm = g.add_node("Opaque", title="perm", params=O.torch_params("Tensor.permute", [{"input": 0}, 0, 2, 1], {}, {}))
    top = g.add_node("Opaque", title="top", params=O.torch_params("torch.max", [{"input": 0}], {"dim": -1}, {}, pick=0))
    y = g.add_node("Output", params={"name": "y"})
    for a, b, port in [(x, cut, "x0"), (cut, perm, "x0"), (perm, top, "x0"), (top, y, "in")]:
        g.connect(a.id, "out", b.id, port)
    return g, top


def test_slices_methods_and_picked_outputs():
    g, top = methods_graph()
    assert analyse(g).outputs[top.id]["out"].shape == ("batch", 3)
    x = torch.randn(2, 4, 6)
    assert torch.equal(compile_model(g).module(x), x[:, 1:3, ::2].permute(0, 2, 1).max(dim=-1)[0])
