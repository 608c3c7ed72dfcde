"""Plugin discovery and failure isolation: a broken plugin is reported and skipped."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from workbench.core import catalog
from workbench.core import plugins as plugin_mod

GOOD = """
from torch import nn
from workbench.plugin_api import NodeSpec, Port
def register(api):
    api.node(NodeSpec("{name}", "Extra", "Doubles.", (Port("in"),),
                      infer=lambda p, ins: {{"out": ins["in"]}}, build=lambda p, ins: nn.Identity()))
"""


@pytest.fixture
def folder(tmp_path):
    yield tmp_path
    for t in ("PlugGood", "PlugHalf", "PlugOther"):
        catalog.unregister(t)
    for source in [s for s in plugin_mod._installed if s.startswith(str(tmp_path))]:
        del plugin_mod._installed[source]


def _write(folder, name, text):
    (folder / f"{name}.py").write_text(textwrap.dedent(text))


def test_broken_plugins_are_reported_and_skipped(folder):
    _write(folder, "a_good", GOOD.format(name="PlugGood"))
    _write(folder, "b_import", "import not_a_module_anywhere\n")
    _write(folder, "c_raises", "def register(api):\n    raise RuntimeError('boom')\n")
    _write(folder, "d_badspec", """
        from workbench.plugin_api import NodeSpec, Port
        def register(api):
            api.node(NodeSpec("PlugHalf", "Extra", "ok", (Port("in"),),
                              infer=lambda p, ins: {"out": ins["in"]}, build=lambda p, ins: None))
            api.node(NodeSpec("PlugOther", "Extra", "broken", (Port("in"),),
                              infer=lambda p, ins: 1 / 0, build=lambda p, ins: None))
        """)
    _write(folder, "e_duplicate", GOOD.format(name="Linear"))
    _write(folder, "f_noregister", "X = 1\n")
    found = {p.name: p for p in plugin_mod.load_plugins([folder])}
    assert found["a_good"].ok and found["a_good"].nodes == ["PlugGood"]
    assert found["b_import"].error == ("ModuleNotFoundError: No module named 'not_a_module_anywhere' "
                                       "(b_import.py, line 1)")
    assert found["c_raises"].error == "RuntimeError: boom (c_raises.py, line 2)"
    assert found["d_badspec"].error.startswith("PlugOther: its shape rule fails: ZeroDivisionError")
    assert catalog.find("PlugHalf") is None  # skipped as a whole
    assert found["e_duplicate"].error == "node type 'Linear' is already registered"
    assert found["f_noregister"].error == "has no register(api) function"
    assert catalog.find("PlugGood") is not None
    again = {p.name: p for p in plugin_mod.load_plugins([folder])}
    assert again["a_good"] is found["a_good"]  # not run twice


def test_default_discovery_is_unaffected_by_other_folders(folder):
    _write(folder, "broken", "raise ImportError('x')\n")
    plugin_mod.load_plugins([folder])
    assert all(p.ok for p in plugin_mod.load_plugins()), "only the repository's plugin is found"


def test_plugins_command_lists_failures(tmp_path):
    _write(tmp_path, "broken", "raise ImportError('needs scipy')\n")
    env = {"WORKBENCH_PLUGIN_PATH": str(tmp_path), "PATH": ""}
    result = subprocess.run([sys.executable, "-m", "workbench", "plugins"], capture_output=True,
                            text=True, env=env)
    assert result.returncode == 1
    assert "ok      gated_layers         GLU, ResidualMLP" in result.stdout
    assert "FAILED  broken               ImportError: needs scipy (broken.py, line 1)" in result.stdout


def test_a_failing_plugin_does_not_stop_other_commands(tmp_path):
    _write(tmp_path, "broken", "raise ImportError('needs scipy')\n")
    env = {"WORKBENCH_PLUGIN_PATH": str(tmp_path), "PATH": ""}
    result = subprocess.run([sys.executable, "-m", "workbench", "validate", str(tmp_path / "none.wbproj")],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "warning: plugin 'broken' skipped: ImportError: needs scipy (broken.py, line 1)",
        f"error: {tmp_path}/none.wbproj: no such file"]
