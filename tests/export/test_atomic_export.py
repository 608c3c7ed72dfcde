"""Exports never leave half a file at the requested path: a full disk (RLIMIT_FSIZE, so no root
is needed) or a read-only folder is one `error:` line naming the path, with nothing left behind;
two exports to one path leave one complete, verified model; PROJECT must match the run."""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

FORMATS = ["onnx", "pt2", "torchscript", "python", "bundle", "cluster"]
TARGETS = {"onnx": "m.onnx", "pt2": "m.pt2", "torchscript": "m.pt", "python": "code",
           "bundle": "b.zip", "cluster": "c"}

# Runs the CLI once per format in ONE process (torch is imported once) and reports each
# exit code and stderr as JSON on stdout (a pipe: the file size limit does not apply to it).
DRIVER = r"""
import contextlib, io, json, sys
from workbench.cli import main
project, run, out = sys.argv[1:4]
results = {}
for fmt, target in json.loads(sys.argv[4]).items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["export", project, "--run", run, "--format", fmt, "-o", f"{out}/{fmt}/{target}"])
    results[fmt] = [code, err.getvalue()]
print(json.dumps(results))
"""


@pytest.fixture
def iris(small_iris_run):
    return small_iris_run


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _full_disk(limit: int):
    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_file_size


def _left(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_a_full_disk_is_one_line_and_leaves_nothing_for_every_format(iris, tmp_path):
    out = tmp_path / "out"
    for fmt in FORMATS:
        (out / fmt).mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(iris / "project.wbproj"), str(iris), str(out),
                           json.dumps(TARGETS)], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env=_env(), preexec_fn=_full_disk(512))
    assert proc.returncode == 0, proc.stderr[-3000:]          # no C++ terminate (exit 134)
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for fmt in FORMATS:
        code, err = results[fmt]
        final = out / fmt / TARGETS[fmt]
        folder = final.with_suffix("") if final.suffix == ".zip" else final
        assert code == 2, (fmt, err)
        assert err.count("\n") == 1 and err.startswith("error: cannot write "), (fmt, err)
        assert str(folder) in err and "File too large" in err, (fmt, err)
        assert ".wbtmp" not in err, (fmt, err)
        assert _left(out / fmt) == [], (fmt, _left(out / fmt))   # no truncated file, no temp


def test_a_read_only_folder_is_one_line_naming_the_path(iris, tmp_path, capsys, monkeypatch):
    """A folder the user may not write to: the real thing where the tests do not run as root (root
    may write anyway), else the same refusal from the file system simulated at open()."""
    from workbench.cli import main
    target = tmp_path / "ro"
    target.mkdir()
    if os.geteuid() == 0:
        real_open = open

        def refuse(path, mode="r", *args, **kwargs):
            if "w" in mode and Path(path).parent == target:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, mode, *args, **kwargs)
        monkeypatch.setattr("builtins.open", refuse)
    else:
        target.chmod(0o555)
    try:
        for fmt, name in (("pt2", "m.pt2"), ("torchscript", "m.pt")):
            code = main(["export", str(iris / "project.wbproj"), "--run", str(iris), "--format", fmt,
                         "-o", str(target / name)])
            err = capsys.readouterr().err
            assert code == 2 and err == f"error: cannot write {target / name}: Permission denied\n", err
    finally:
        target.chmod(0o755)
    assert _left(target) == []


def test_two_exports_to_one_path_leave_one_complete_verified_model(iris, tmp_path):
    """`best` and `last` exported at once to the same file: each writes and verifies its own temp
    file and renames it whole, so the file left is one of the two models, entire."""
    import torch

    from workbench.export.onnx_export import read_metadata, session
    from workbench.train.checkpoint import load_run
    path = tmp_path / "same.onnx"
    procs = [subprocess.Popen([sys.executable, "-m", "workbench", "export", str(iris / "project.wbproj"),
                               "--run", str(iris), "--format", "onnx", "-o", str(path), "--checkpoint", which],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=tmp_path)
             for which in ("best", "last")]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (stdout, stderr) in zip(procs, outs):
        assert p.returncode == 0, stderr[-2000:]
        assert stdout.rstrip().endswith("verification passed")
    assert sorted(os.listdir(tmp_path)) == ["same.onnx", "same.preprocessing.json"]
    which = read_metadata(path)["workbench.checkpoint"]
    model = load_run(iris, which).model.module.eval()
    x = np.random.default_rng(0).standard_normal((9, 4)).astype(np.float32)
    got = session(path).run(None, {"x": x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_a_folder_of_other_files_is_not_replaced(iris, tmp_path):
    from workbench.export.api import export_run
    from workbench.export.report import ExportError
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match=r"mine: holds files the python export does not write \(notes.txt\)"):
        export_run(iris, "python", folder)
    assert _left(folder) == ["notes.txt"] and (folder / "notes.txt").read_text() == "mine"
    assert _left(tmp_path) == ["mine", "mine/notes.txt"]
    # an earlier export of the same format is replaced whole
    first = export_run(iris, "python", tmp_path / "code")
    assert first.passed
    (tmp_path / "code" / "weights.pt").write_bytes(b"old")
    again = export_run(iris, "python", tmp_path / "code")
    assert again.passed and (tmp_path / "code" / "weights.pt").read_bytes() != b"old"
    assert all(p.parent == tmp_path / "code" for p in again.paths), again.paths


def test_export_refuses_a_project_that_is_not_the_run_s(iris, tmp_path, capsys):
    from workbench.cli import main
    from workbench.core import project as pf
    other = pf.load(iris / "project.wbproj")
    node = next(n for n in other.graph.nodes.values() if n.type == "Linear")
    node.params["out_features"] = int(node.params.get("out_features", 8)) + 5
    pf.save(other, tmp_path / "other.wbproj")
    code = main(["export", str(tmp_path / "other.wbproj"), "--run", str(iris), "--format", "onnx",
                 "-o", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: {tmp_path / 'other.wbproj'}: not the project run {iris.name} was trained from")
    assert not (tmp_path / "m.onnx").exists()
