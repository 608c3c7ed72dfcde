"""Plugin discovery and failure isolation: a broken plugin is reported and skipped, and one
that hangs, exits, crashes or prints at import cannot hang, end or corrupt anything else."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.core import catalog, plugin_probe
from workbench.core import plugins as plugin_mod

REPO = Path(__file__).resolve().parents[2]
LIMIT = "2"   # seconds a test plugin may take to import; only hanging ones ever reach it

GOOD = """
from torch import nn
from workbench.plugin_api import NodeSpec, Port
def register(api):
    api.node(NodeSpec("{name}", "Extra", "Doubles.", (Port("in"),),
                      infer=lambda p, ins: {{"out": ins["in"]}}, build=lambda p, ins: nn.Identity()))
"""


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """Verdicts are kept by content, so tests that only read them share one cache: each test
    plugin's text is probed once per run of this file, not once per test."""
    return tmp_path_factory.mktemp("verdicts")


@pytest.fixture(autouse=True)
def private_cache(shared_cache, monkeypatch):
    """Verdicts go to the tests' own cache, and a hanging plugin is given up on soon."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_cache))
    monkeypatch.setenv(plugin_probe.TIMEOUT_ENV, LIMIT)


def _env(folder: Path) -> dict[str, str]:
    return {"WORKBENCH_PLUGIN_PATH": str(folder), "PATH": "", "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            "XDG_CACHE_HOME": os.environ["XDG_CACHE_HOME"], plugin_probe.TIMEOUT_ENV: LIMIT}


@pytest.fixture
def folder(tmp_path):
    yield tmp_path
    for t in ("PlugGood", "PlugHalf", "PlugOther", "PlugPrint", "PlugEdit"):
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
    result = subprocess.run([sys.executable, "-m", "workbench", "plugins"], capture_output=True,
                            text=True, env=_env(tmp_path))
    assert result.returncode == 1
    assert "ok      gated_layers         GLU, ResidualMLP" in result.stdout
    assert "FAILED  broken               ImportError: needs scipy (broken.py, line 1)" in result.stdout


def test_a_failing_plugin_does_not_stop_other_commands(tmp_path):
    _write(tmp_path, "broken", "raise ImportError('needs scipy')\n")
    result = subprocess.run([sys.executable, "-m", "workbench", "validate", str(tmp_path / "none.wbproj")],
                            capture_output=True, text=True, env=_env(tmp_path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "warning: plugin 'broken' skipped: ImportError: needs scipy (broken.py, line 1)",
        f"error: {tmp_path}/none.wbproj: no such file"]


HOSTILE = {
    "a_sleeps": ("import time\ntime.sleep(10 ** 6)\n", f"timed out after {LIMIT} s at import"),
    "b_loops": ("while True:\n    pass\n", f"timed out after {LIMIT} s at import"),
    "c_exits": ("import os\nos._exit(3)\n", "exited with code 3 at import"),
    "d_sys_exit": ("import sys\nsys.exit(4)\n", "exited with code 4 at import"),
    "e_segfaults": ("import ctypes\nctypes.string_at(0)\n", "crashed (signal SIGSEGV) at import"),
    "f_interrupts": ("raise KeyboardInterrupt\n", "raised KeyboardInterrupt at import"),
    "g_hangs_in_register": ("import time\ndef register(api):\n    time.sleep(10 ** 6)\n",
                            f"timed out after {LIMIT} s in register(api)"),
}
PRINTS = GOOD.replace("from torch import nn", "from torch import nn\nimport os\nprint('hello from a plugin')\n"
                                               "os.write(1, b'raw bytes from a plugin\\n')")


def _hostile_folder(folder: Path) -> None:
    for name, (text, _) in HOSTILE.items():
        _write(folder, name, text)
    _write(folder, "h_good", GOOD.format(name="PlugGood"))
    _write(folder, "i_prints", PRINTS.format(name="PlugPrint"))


def test_plugins_that_hang_exit_crash_or_interrupt_are_reported_and_skipped(folder, capfd):
    _hostile_folder(folder)
    found = {p.name: p for p in plugin_mod.load_plugins([folder])}
    assert {name: found[name].error for name in HOSTILE} == {name: why for name, (_, why) in HOSTILE.items()}
    assert found["h_good"].ok and catalog.find("PlugGood") is not None
    assert found["i_prints"].ok and found["i_prints"].nodes == ["PlugPrint"]
    out, err = capfd.readouterr()
    assert out == ""   # imported here: its print and its raw write to fd 1 went to stderr
    assert "hello from a plugin" in err and "raw bytes from a plugin" in err


def test_verdicts_are_cached_by_content_and_an_edit_probes_again(folder, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / ".cache"))
    _write(folder, "c_exits", HOSTILE["c_exits"][0])
    _write(folder, "j_edited", GOOD.format(name="PlugEdit"))
    before = plugin_probe.probes_run
    first = {p.name: p.error for p in plugin_mod.load_plugins([folder])}
    assert plugin_probe.probes_run == before + 2
    before = plugin_probe.probes_run
    again = {p.name: p.error for p in plugin_mod.load_plugins([folder], reload=True)}
    assert plugin_probe.probes_run == before, "cached verdicts: nothing probed twice"
    assert again == first and catalog.find("PlugEdit") is not None
    _write(folder, "j_edited", "import os\nos._exit(5)\n")
    edited = {p.name: p.error for p in plugin_mod.load_plugins([folder], reload=True)}
    assert plugin_probe.probes_run == before + 1
    assert edited["j_edited"] == "exited with code 5 at import" and catalog.find("PlugEdit") is None
    assert {k: v for k, v in edited.items() if k != "j_edited"} == {k: v for k, v in first.items() if k != "j_edited"}
    plugin_mod.load_plugins([folder], recheck=True)
    assert plugin_probe.probes_run == before + 3, "recheck trusts no kept verdict"


def test_a_longer_time_limit_probes_a_timed_out_plugin_again(folder, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / ".cache"))
    _write(folder, "sleeps", HOSTILE["a_sleeps"][0])
    plugin_mod.load_plugins([folder])
    before = plugin_probe.probes_run
    monkeypatch.setenv(plugin_probe.TIMEOUT_ENV, "2.5")
    found = {p.name: p for p in plugin_mod.load_plugins([folder], reload=True)}
    assert found["sleeps"].error == "timed out after 2.5 s at import"
    assert plugin_probe.probes_run == before + 1


@pytest.mark.parametrize("content", ["{not json", '[1, 2]', '{"format": 1, "verdicts": {"k": 5}}'])
def test_a_damaged_cache_only_costs_a_probe(folder, monkeypatch, content):
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / ".cache"))
    path = plugin_probe.cache_path()
    path.parent.mkdir(parents=True)
    path.write_text(content)
    _write(folder, "good", GOOD.format(name="PlugGood"))
    before = plugin_probe.probes_run
    assert [p.error for p in plugin_mod.load_plugins([folder])] == [None]
    assert plugin_probe.probes_run == before + 1
    assert len(json.loads(path.read_text())["verdicts"]) == 1


def test_an_exit_only_in_process_is_contained_too(folder, capfd):
    """The probe passed, yet the import here raises: still reported, never fatal."""
    _write(folder, "a_interrupts_here", "import sys\nif sys.argv[0] != '-c':\n    raise KeyboardInterrupt\n"
                                        "def register(api):\n    pass\n")
    _write(folder, "b_exits_here", "import sys\ndef register(api):\n    if sys.argv[0] != '-c':\n"
                                   "        print('bye')\n        sys.exit(7)\n")
    found = {p.name: p for p in plugin_mod.load_plugins([folder])}
    assert found["a_interrupts_here"].error == "raised KeyboardInterrupt at import"
    assert found["b_exits_here"].error == "exited with code 7 in register(api)"
    out, err = capfd.readouterr()
    assert out == "" and "bye" in err


def test_a_good_plugin_is_probed_once_ever(tmp_path):
    """Across processes: the plugin's import runs twice the first time (probe and use), once
    each time after; an edit probes again. (The log path makes its text, so its key, unique.)"""
    log = tmp_path / "imports.log"
    text = f"open({str(log)!r}, 'a').write('x')\n" + GOOD.format(name="PlugGood")
    _write(tmp_path, "counted", text)
    command = [sys.executable, "-m", "workbench", "plugins"]
    for expected in (2, 3):
        result = subprocess.run(command, capture_output=True, text=True, env=_env(tmp_path))
        assert "ok      counted              PlugGood" in result.stdout, result.stdout + result.stderr
        assert len(log.read_text()) == expected
    _write(tmp_path, "counted", text + "# edited\n")
    subprocess.run(command, capture_output=True, text=True, env=_env(tmp_path))
    assert len(log.read_text()) == 5


def test_commands_run_and_json_stays_clean_beside_bad_plugins(tmp_path):
    _hostile_folder(tmp_path)
    iris = REPO / "resources" / "examples" / "data" / "iris.csv"
    result = subprocess.run([sys.executable, "-m", "workbench", "data", "inspect", str(iris), "--json"],
                            capture_output=True, text=True, env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == 150
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning: plugin")]
    assert warnings == [f"warning: plugin '{name}' skipped: {why}" for name, (_, why) in HOSTILE.items()]
    assert "hello from a plugin" in result.stderr


def test_train_json_stays_clean_with_a_printing_plugin(tmp_path):
    _write(tmp_path, "prints", PRINTS.format(name="PlugPrint"))
    project = REPO / "resources" / "examples" / "iris-classifier" / "project.wbproj"
    result = subprocess.run([sys.executable, "-m", "workbench", "train", str(project), "--epochs", "1",
                             "--out", str(tmp_path / "run"), "--json"],
                            capture_output=True, text=True, env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "completed"
    assert "hello from a plugin" in result.stderr and "raw bytes from a plugin" in result.stderr


def test_entry_point_plugins_are_probed_by_module_name(tmp_path):
    """An installed distribution's entry points, found on the path like any other."""
    site = tmp_path / "site"
    info = site / "wb_fake_plugins-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wb-fake-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[workbench.plugins]\nfine = wb_fake_fine\n"
                                           "dies = wb_fake_dies:register\n")
    (site / "wb_fake_fine.py").write_text(textwrap.dedent(GOOD.format(name="PlugGood")))
    (site / "wb_fake_dies.py").write_text("import os\nos._exit(9)\n")
    env = {**_env(tmp_path / "none"), "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "workbench", "plugins"], capture_output=True, text=True, env=env)
    assert "ok      fine                 PlugGood   [entry point wb_fake_fine]" in result.stdout, result.stdout
    assert ("FAILED  dies                 exited with code 9 at import   [entry point wb_fake_dies:register]"
            in result.stdout)
    assert result.returncode == 1
