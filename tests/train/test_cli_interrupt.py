"""Ctrl-C while a plugin is being probed (a cold cache, a plugin that sleeps at import): the
usual one line and exit 130 at once, never a traceback or a wait for the probe's time limit."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the probe in /proc")


def _children(pid: int) -> list[str]:
    """Command lines of the processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.mark.parametrize("command", [["plugins"], ["validate", "none.wbproj"]])
def test_ctrl_c_during_a_plugin_probe_is_one_line_and_exit_130(tmp_path, command):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "sleepy.py").write_text("import time\ntime.sleep(10 ** 6)\n")
    env = {**os.environ, "WORKBENCH_PLUGIN_PATH": str(plugins), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "WORKBENCH_PLUGIN_TIMEOUT": "30"}
    proc = subprocess.Popen([sys.executable, "-m", "workbench", *command], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any("plugin_child" in c for c in _children(proc.pid)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no plugin probe started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)   # well inside the plugin's 30 s limit
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted"
    assert not (tmp_path / "cache" / "workbench" / "plugin-verdicts.json").exists()  # no verdict kept
