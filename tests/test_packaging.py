"""The wheel: builds with `python -m build`, installs into a fresh venv, and runs.

The fresh venv borrows this environment's third-party packages through a .pth file (so the
test does not download torch again); the wheel itself is installed with --no-deps, so what
runs is the installed wheel, not the checkout.
"""
from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    pytest.importorskip("build")
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next((tmp / "dist").glob("workbench-*.whl"))
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    purelib = subprocess.run([str(env_dir / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    deps = [p for p in site.getsitepackages() if "site-packages" in p]
    Path(purelib, "borrowed_deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install",
                    "--no-deps", "--no-index", "-q", str(wheel)], check=True, capture_output=True,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})  # else: "already installed"
    return env_dir


def _run(env_dir, *args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(env_dir / "bin" / "workbench"), *args], capture_output=True, text=True,
                          cwd=cwd, env=env)


def test_wheel_runs_version_and_validate(installed, tmp_path):
    version = _run(installed, "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == "workbench 0.1.0"
    from workbench.core import save, templates
    project = save(templates.build("mlp-classifier", templates.DataShape((4,), num_classes=3)),
                   tmp_path / "p.wbproj")
    examples = sorted((ROOT / "resources" / "examples").glob("*/project.wbproj")) or [project]
    for example in examples:
        result = _run(installed, "validate", str(example), cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "valid ·" in result.stdout
    where = subprocess.run([str(installed / "bin" / "python"), "-c",
                            "import json, workbench, workbench.resources as r; "
                            "print(json.dumps([workbench.__file__, str(r.resources_dir())]))"],
                           capture_output=True, text=True, cwd=tmp_path,
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    module_file, resources = json.loads(where.stdout)
    assert str(installed) in module_file          # the installed wheel, not the checkout
    assert Path(resources, "icons", "workbench-256.png").is_file()
