"""The example plugin: discovered, valid specs, compiles, learns, and exports."""
from __future__ import annotations

import torch

from workbench.core import Graph, analyse, catalog, compile_model
from workbench.core.plugins import REPO_PLUGINS, load_plugins


def test_example_plugin_is_discovered_and_registers_its_nodes():
    plugins = {p.name: p for p in load_plugins([REPO_PLUGINS])}
    assert plugins["gated_layers"].ok, plugins["gated_layers"].error
    assert plugins["gated_layers"].nodes == ["GLU", "ResidualMLP"]
    assert catalog.get("GLU").category == "Gated"


def test_plugin_layers_infer_compile_and_learn():
    load_plugins([REPO_PLUGINS])
    g = Graph()
    x = g.add_node("Input", params={"shape": "6"})
    glu = g.add_node("GLU", params={"out_features": 16})
    res = g.add_node("ResidualMLP", params={"hidden": 32})
    head = g.add_node("Linear", params={"out_features": 1})
    out = g.add_node("Output")
    for a, b in [(x, glu), (glu, res), (res, head), (head, out)]:
        g.connect(a.id, "out", b.id, "in")
    analysis = analyse(g)
    assert analysis.output_type(res.id).shape == ("batch", 16)
    assert analysis.params[glu.id] == 2 * (6 * 16 + 16)
    model = compile_model(g, analysis=analysis).module
    gen = torch.Generator().manual_seed(0)
    xs = torch.randn(256, 6, generator=gen)
    ys = (xs[:, :1] * xs[:, 1:2]).tanh()   # needs the multiplicative gate to fit well
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        loss = torch.nn.functional.mse_loss(model(xs), ys)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first
    assert torch.allclose(torch.jit.script(model.eval())(xs), model(xs), atol=1e-6)
