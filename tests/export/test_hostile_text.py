"""Text from a project or a data file never becomes code (issue 12): a hostile string in every
text field of a project (name, node titles, Input/Output names, column and class names, the
data file's name, vocabulary words), exported in every format, runs nothing (not when the
export verifies model.py by importing it, not when the generated scripts run) and leaves
every generated file parseable, with the text kept as a value."""
from __future__ import annotations

import ast
import csv
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

MARK = "PWNED"
HOSTILE = ('x"""\'\'\'\nimport os; os.system("touch PWNED") # $(touch PWNED) `touch PWNED`; rm -f nothing '
           '*/ <script>alert(1)</script> [a](javascript:x) \\ \\n é☃ \u2028 ${HOME}')
# A file name cannot hold '/'. Column names: the whole hostile string, long and many words
# (the header is known by the repeated classes under it); the line break inside the quoted
# name reads as a space, as a wrapped spreadsheet heading would. Class names: the label
# column's values, the hostile string with its line break.
FILE_NAME = HOSTILE.replace("/", "∕") + ".csv"
COLUMN = HOSTILE
COLUMN_READ = HOSTILE.replace("\n", " ")  # how the reader names it
WORDS = ["good", "bad", "$(touch", "PWNED)", "`touch", '"""', "'''", "<script>", "\\x", "é☃", "#", "*/", ";rm"]
FORMATS = {"onnx": "m.onnx", "torchscript": "m.pt", "pt2": "m.pt2", "python": "code", "bundle": "bundle"}


def _marks(*folders: Path) -> list[Path]:
    return [p for f in folders for p in Path(f).rglob(f"*{MARK}*") if p.name.startswith(MARK)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A 1-epoch text run of a project hostile everywhere, exported in every format."""
    from workbench.cli import main
    from workbench.export.api import export_run
    from workbench.export.cluster import write_cluster_bundle
    warnings.filterwarnings("ignore")
    root = tmp_path_factory.mktemp("hostile")
    cwd = os.getcwd()
    os.chdir(root)  # a `touch PWNED` that ran would land here
    try:
        data = root / FILE_NAME
        with open(data, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow([COLUMN + " text", COLUMN + " label"])
            for i in range(40):
                words = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(5))
                w.writerow([words + (" good" if i % 2 else " bad"), COLUMN + ("yes" if i % 2 else "no")])
        project = root / "p.wbproj"
        assert main(["new", str(project), "--template", "text-classifier", "--data", str(data),
                     "--name", HOSTILE]) == 0
        doc = json.loads(project.read_text(encoding="utf-8"))
        for i, node in enumerate(doc["graph"]["nodes"]):
            node["title"] = f"{HOSTILE} {i}"
            if node["type"] in ("Input", "Output"):
                node["params"]["name"] = f"{HOSTILE} {node['type']}"
            if node["type"] == "GlobalPool":
                node["params"]["skip_padding"] = True
        doc["training"]["epochs"] = 1
        project.write_text(json.dumps(doc), encoding="utf-8")
        run = root / "run"
        assert main(["train", str(project), "--epochs", "1", "--out", str(run)]) == 0
        reports = {fmt: export_run(run, fmt, root / out) for fmt, out in FORMATS.items()}
        cluster = write_cluster_bundle(run, root / "cluster", nproc_per_node=2, nnodes=2)
    finally:
        os.chdir(cwd)
    return root, run, reports, cluster


def test_every_format_exports_and_verifies_and_nothing_ran(exported):
    root, run, reports, cluster = exported
    for fmt, report in reports.items():
        assert report.passed, f"{fmt}: {report.summary()}"
    assert cluster.passed, cluster.summary()
    from workbench.export.api import load
    info = load(run)
    assert info.classes == [COLUMN + "no", COLUMN + "yes"]
    assert info.preprocessing["text"]["columns"] == [COLUMN_READ + " text"]
    assert info.preprocessing["target"]["columns"] == [COLUMN_READ + " label"]
    assert {"touch", "pwned", "script"} <= set(info.preprocessing["text"]["vocab"])  # \w+ tokens
    assert _marks(root) == []


def _generated(root: Path) -> list[Path]:
    skip = {root / "run"}
    return [p for p in root.rglob("*") if p.is_file() and not any(s in p.parents for s in skip)]


def test_every_generated_file_parses(exported):
    import onnx
    root, *_ = exported
    seen = set()
    for path in _generated(root):
        text = path.read_bytes()
        if path.suffix == ".py":
            ast.parse(text.decode("utf-8"), str(path))
        elif path.suffix == ".sh":
            r = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
            assert r.returncode == 0, (path, r.stderr)
        elif path.suffix == ".json":
            json.loads(text.decode("utf-8"))
        elif path.suffix == ".onnx":
            onnx.load(str(path))
        elif path.suffix == ".md":
            _markdown_has_no_live_markup(path)
        seen.add(path.suffix)
    assert {".py", ".sh", ".json", ".onnx", ".md"} <= seen
    assert _marks(root) == []


def _markdown_has_no_live_markup(path: Path) -> None:
    """Outside code blocks and code spans, the hostile text shows as text: no HTML tag, no link."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^(`{3,})\n.*?\n\1$", "", text, flags=re.S | re.M)  # fenced blocks
    text = re.sub(r"(`+)(.+?)\1", "", text)                            # code spans
    assert "<script>" not in text and "](javascript" not in text, path
    assert not any(line.startswith("import os") for line in text.splitlines()), path  # one line


def test_model_py_keeps_the_text_as_values(exported):
    from workbench.export.python_code import import_file
    root, *_ = exported
    for folder in (root / "code", root / "cluster"):
        source = (folder / "model.py").read_text(encoding="utf-8")
        tree = ast.parse(source)
        assert ast.get_docstring(tree, clean=False).startswith(HOSTILE + ": the model")
        top = [type(s).__name__ for s in tree.body]
        assert "Import" in top and all(t in ("Expr", "Import", "ImportFrom", "Assign", "ClassDef", "FunctionDef")
                                       for t in top)
        assert not any(isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "system" for n in ast.walk(tree))
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            module = import_file(folder / "model.py", f"_wb_hostile_{folder.name}")
        finally:
            os.chdir(cwd)
        assert all(COLUMN in c for c in module.CLASSES)
        train = ast.parse((folder / "train.py").read_text(encoding="utf-8"))
        settings = next(n.value for n in train.body if isinstance(n, ast.Assign)
                        and getattr(n.targets[0], "id", "") == "SETTINGS")
        assert ast.literal_eval(settings)["data"].endswith(FILE_NAME)
    assert _marks(root) == []


def test_onnx_metadata_holds_the_name_as_one_line(exported):
    from workbench.export.onnx_export import read_metadata
    root, *_ = exported
    meta = read_metadata(root / "m.onnx")
    assert meta["workbench.project"] == HOSTILE.replace("\n", "\\n").replace("\u2028", "\\u2028")
    assert all(COLUMN in c for c in json.loads(meta["workbench.classes"]))


def test_cluster_scripts_pass_the_file_name_as_one_argument(exported, tmp_path):
    """Run both launch scripts with TORCHRUN replaced by a stub that records its arguments;
    then train.py itself, for one epoch, on the data argument the script passed."""
    root, _, _, cluster = exported
    folder = cluster.folder
    stub = tmp_path / "torchrun-stub"
    record = tmp_path / "args.json"
    stub.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    f"json.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n", encoding="utf-8")
    stub.chmod(0o755)
    env = {**os.environ, "TORCHRUN": str(stub), "MASTER_ADDR": "127.0.0.1", "NODE_RANK": "0"}
    for script in ("run_single_node.sh", "run_multi_node.sh"):
        r = subprocess.run(["bash", str(folder / script), "--epochs", "1"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        args = json.loads(record.read_text(encoding="utf-8"))
        assert args[args.index("--data") + 1] == f"data/{FILE_NAME}"
        assert args[-2:] == ["--epochs", "1"]
    assert (folder / "data" / FILE_NAME).is_file()
    r = subprocess.run([sys.executable, "train.py", "--data", f"data/{FILE_NAME}", "--epochs", "1",
                        "--out", str(tmp_path / "trained.pt"), "--device", "cpu"],
                       cwd=folder, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (tmp_path / "trained.pt").is_file()
    assert _marks(root, tmp_path) == []


def test_each_escaper_keeps_the_text_a_value():
    import shlex
    from workbench.export import escape
    assert ast.literal_eval(escape.python_literal(HOSTILE)) == HOSTILE
    assert ast.literal_eval(escape.python_literal([HOSTILE, 1, 2.5, None, True, (HOSTILE,)])) == \
        [HOSTILE, 1, 2.5, None, True, (HOSTILE,)]
    assert escape.python_literal(float("inf")) == 'float("inf")'
    for quote in ('"', '"""'):
        assert ast.literal_eval(quote + escape.python_text(HOSTILE) + quote) == HOSTILE
    assert "\n" not in escape.python_comment(HOSTILE) and "\u2028" not in escape.python_comment(HOSTILE)
    assert shlex.split(escape.shell(HOSTILE)) == [HOSTILE]
    r = subprocess.run(["bash", "-c", "printf %s " + escape.shell(HOSTILE)], capture_output=True, text=True)
    assert r.stdout == HOSTILE
    assert json.loads(escape.json_text({"k": HOSTILE})) == {"k": HOSTILE}
    assert json.loads(escape.dockerfile_args(["python", HOSTILE])) == ["python", HOSTILE]
    assert "\n" not in escape.dockerfile_args([HOSTILE])
    md = escape.markdown(HOSTILE)
    assert "<" not in md and "\n" not in md and "](" not in md
    code = escape.markdown_code("a `b`` c")
    assert code.startswith("```") and code.endswith("```") and "\n" not in escape.markdown_code(HOSTILE)
    block = escape.markdown_code_block("x ```` y")
    assert block.startswith("`````\n") and block.endswith("\n`````")
    assert escape.plain_text("a\nb\ud800") == "a\\nb\\ud800"
