"""`make run` installs Qt's X11 libraries through packaging/system-libs.sh; run where no X
display is up yet (a fresh container, an ssh shell), it used to find nothing to install."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "packaging" / "system-libs.sh"


def test_the_library_check_runs_as_if_a_window_will_open_when_no_display_is_set(tmp_path):
    seen = tmp_path / "seen"
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\necho "display=$DISPLAY" > "{seen}"\n')  # finds nothing missing
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run(["sh", str(SCRIPT), str(fake)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == ""
    assert seen.read_text().strip() == "display=:0"
    env["DISPLAY"] = ":7"                                   # a display that is up is kept
    subprocess.run(["sh", str(SCRIPT), str(fake)], env=env, timeout=60, check=True)
    assert seen.read_text().strip() == "display=:7"
