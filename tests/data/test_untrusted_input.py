"""Issue 12, untrusted sizes and special files: a wide header is read whole, an oversize field,
a FIFO, /dev/zero, JSON nested 100,000 deep, inf in a feature and a model too big for memory
each end in one line naming the file (and line, column or node) — never a hang, a traceback or
a silently wrong read."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import DATA, ROOT
from tests.core.helpers import classifier
from tests.data.helpers import write
from workbench.cli import main
from workbench.core import clipboard, files, save
from workbench.core.project import Project, ProjectError, load
from workbench.data import DataError, DataSettings, inspect, read_table
from workbench.data import read as read_module
from workbench.data.prepared import prepare

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")


def message(fn, *args, **kwargs) -> str:
    with pytest.raises((DataError, ProjectError)) as info:
        fn(*args, **kwargs)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# -- untrusted sizes ------------------------------------------------------------------------

def test_a_header_longer_than_the_sample_is_read_whole(tmp_path):
    n = 6000  # names of 30 characters: a 180 KB header, three times the 64 KiB first sample
    names = [f"measurement_of_something_{i:05d}" for i in range(n)]
    rows = [",".join(names + ["label"])]
    rows += [",".join(["0.5"] * n + [cls]) for cls in ("a", "b", "a", "b")]
    path = write(tmp_path, "wide.csv", "\n".join(rows) + "\n")
    assert len(rows[0]) > 2 * read_module.SAMPLE_BYTES
    df, info = read_table(path)
    assert df.shape == (4, n + 1) and info.columns[-1] == "label" and info.has_header
    assert list(df["label"]) == ["a", "b", "a", "b"]


def test_a_first_line_longer_than_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(read_module, "MAX_SAMPLE_BYTES", 256 * 1024)
    path = write(tmp_path, "long.csv", ",".join(["x"] * 200_000) + "\n1\n")
    assert message(read_table, path) == (f"{path}: line 1: the first line is longer than 0 MiB: "
                                         "not a table Workbench can read")


def test_a_field_over_the_csv_modules_default_limit_is_read(tmp_path):
    long = "word " * 40_000  # 200,000 characters; the csv module's default limit is 131,072
    body = "".join(f'{i},"{long if i == 1 else "short text"}",{"pq"[i % 2]}\n' for i in range(6))
    df, _ = read_table(write(tmp_path, "field.csv", "a,b,label\n" + body))
    assert len(df.loc[1, "b"]) == len(long) and df.shape == (6, 3)


def test_a_field_over_the_limit_is_one_line_naming_the_line(tmp_path, monkeypatch):
    monkeypatch.setattr(read_module, "FIELD_LIMIT", 1000)
    path = write(tmp_path, "field.csv", 'a,b\n1,2\n3,"' + "x" * 5000 + '"\n5,6\n')
    assert message(read_table, path) == (f"{path}: line 3: a field is longer than 1,000 "
                                         "characters (a quote never closed?)")


def test_an_oversize_field_found_while_explaining_another_error(tmp_path, monkeypatch):
    monkeypatch.setattr(read_module, "FIELD_LIMIT", 1000)
    head = "a,b\n" + "1,2\n" * 30_000  # the sample ends long before the bad lines
    path = write(tmp_path, "late.csv", head + '3,"' + "x" * 5000 + '"\n1,2,3,4\n')
    assert message(read_table, path) == (f"{path}: line 30002: a field is longer than 1,000 "
                                         "characters (a quote never closed?)")


def test_messages_quoting_a_huge_name_stay_short(tmp_path):
    huge = "n" * 70_000
    path = write(tmp_path, "h.csv", f"a,{huge}\n1,2\n3,4\n")
    text = message(inspect, path, target="nope")
    assert text.startswith(f"{path}: no column 'nope' to use as the target") and len(text) <= 300
    assert text.endswith("…")


# -- special files and unbounded reads ------------------------------------------------------

RUN_ALL = """
import contextlib, io, json, sys
from workbench.cli import main
results = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(args)
    results.append([code, err.getvalue(), out.getvalue()])
print(json.dumps(results))
"""


def run_all(commands, preexec_fn=None) -> list[tuple[int, str, str]]:
    """(exit code, stderr, stdout) of each command, run by main() in one fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", RUN_ALL, json.dumps(commands)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120,
                          preexec_fn=preexec_fn)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@posix_only
def test_fifo_as_data_or_project_fails_at_once_in_every_command(tmp_path):
    """All commands in one fresh process (one interpreter start), under a timeout: before the
    fix each of them blocked forever opening the pipe."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    project = tmp_path / "p.wbproj"
    assert main(["new", str(project), "--template", "mlp-classifier", "--data",
                 str(DATA / "iris.csv")]) == 0
    pipe_project = tmp_path / "pipe.wbproj"
    os.mkfifo(pipe_project)
    data_refused = f"{fifo}: is a named pipe (FIFO), not a file: only regular files are read"
    project_refused = (f"{pipe_project}: is a named pipe (FIFO), not a project file: only "
                       "regular files are read")
    commands = [(["data", "inspect", str(fifo)], data_refused),
                (["new", str(tmp_path / "n.wbproj"), "--template", "mlp-classifier",
                  "--data", str(fifo)], "pipe.csv: is a named pipe (FIFO)"),
                (["train", str(project), "--data", str(fifo), "--epochs", "1"],
                 "pipe.csv: is a named pipe (FIFO)"),
                (["validate", str(pipe_project)], project_refused),
                (["train", str(pipe_project)], project_refused)]
    for (args, expected), (code, err, _) in zip(commands, run_all([c for c, _ in commands])):
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1, (args, code, err)
        assert lines[0].startswith("error: ") and expected in lines[0], (args, err)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_as_project_or_data_is_refused_without_reading(capsys):
    assert message(load, "/dev/zero") == ("/dev/zero: is a device, not a project file: only "
                                          "regular files are read")
    assert message(read_table, "/dev/zero") == ("/dev/zero: is a device, not a file: only "
                                                "regular files are read")
    assert main(["validate", "/dev/zero"]) == 2
    assert capsys.readouterr().err.strip() == ("error: /dev/zero: is a device, not a project "
                                               "file: only regular files are read")


def test_a_project_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "big.wbproj"
    with open(path, "wb") as f:
        f.truncate(files.PROJECT_LIMIT + 1)  # sparse: costs no disk
    assert message(load, path) == (f"{path}: is 64.0 MiB, more than the 64.0 MiB a project file "
                                   "may be")


def test_json_nested_100000_deep_is_one_line(tmp_path, capsys):
    path = tmp_path / "deep.wbproj"
    path.write_text('{"format_version": 1, "graph": ' + "[" * 100_000 + "]" * 100_000 + "}")
    expected = (f"{path}: nested more than {files.MAX_JSON_DEPTH} levels deep: not a file "
                "Workbench wrote")
    assert message(load, path) == expected
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {expected}"
    # nesting under the recursion limit but over ours: the same line, not a crash later
    path.write_text('{"format_version": 1, "x": ' + "[" * 500 + "]" * 500 + "}")
    assert message(load, path).endswith("levels deep: not a file Workbench wrote")


def test_pasting_deeply_nested_text_is_refused_in_words():
    text = '{"kind": "workbench.nodes", "version": 1, "nodes": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(clipboard.ClipboardError, match="nested too deep"):
        clipboard.from_json(text)


def test_a_file_swapped_between_stat_and_open_is_still_checked(tmp_path, monkeypatch):
    """open_regular checks the opened file again (fstat): a FIFO put in place after the stat
    is refused, and non-blocking open means even that open cannot hang."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs named pipes")
    fifo = tmp_path / "swapped"
    os.mkfifo(fifo)
    regular = os.stat(__file__)
    monkeypatch.setattr(files, "check_regular", lambda path, what="file": regular)
    with pytest.raises(files.FileRefused, match="is a named pipe"):
        files.read_regular_bytes(fifo, 1000)


# -- values ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["inf", "1e400", "-inf"])
def test_an_infinite_feature_names_its_line_and_column(tmp_path, value):
    path = write(tmp_path, "inf.csv", f"a,b,y\n1,2,0\n3,4,1\n5,{value},0\n7,8,1\n")
    assert message(inspect, path) == (f"{path}: line 4, column 'b': '{value}' is not a finite "
                                      "number; fix or remove the value")
    settings = DataSettings(path=str(path))
    assert "line 4, column 'b'" in message(prepare, settings)


def test_an_infinite_value_in_the_test_file_names_it(tmp_path):
    train = write(tmp_path, "train.csv", "a,y\n1,0\n2,1\n3,0\n4,1\n")
    test = write(tmp_path, "test.csv", "a,y\n1,0\n1e999,1\n")
    settings = DataSettings(path=str(train), test_path=str(test))
    assert message(prepare, settings) == (f"{test}: line 3, column 'a': '1e999' is not a finite "
                                          "number; fix or remove the value")


def test_an_empty_label_column_is_not_replaced_by_another(tmp_path):
    path = write(tmp_path, "e.csv", "a,b,species\n1,2,\n3,4,\n5,6,\n")
    assert message(inspect, path) == (f"{path}: the last column 'species' has no values, so it "
                                      "cannot be the target; fill it, or choose the target "
                                      "column")
    named = write(tmp_path, "l.csv", "a,b,label\n1,2,\n3,4,\n5,6,\n")
    assert message(inspect, named) == f"{named}: the target column 'label' has no values"
    # a trailing delimiter's unnamed empty column is not a label: it is ignored as before
    trailing = write(tmp_path, "t.csv", "a,b,y,\n1,2,0,\n3,4,1,\n5,6,0,\n")
    assert inspect(trailing).target == "y"


# -- a model too big for memory -------------------------------------------------------------

def _big_project(tmp_path, *layers) -> str:
    graph, _ = classifier(*layers)
    return str(save(Project(graph, name="big", data={"path": str(DATA / "iris.csv")}),
                    tmp_path / "big.wbproj"))


def test_validate_refuses_a_model_no_machine_can_hold(tmp_path, capsys):
    path = _big_project(tmp_path, ("Linear", {"out_features": 1_000_000}),
                        ("Linear", {"out_features": 1_000_000}), ("Linear", {"out_features": 3}))
    assert main(["validate", path]) == 1
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("error:"))
    assert line.startswith("error: [linear1] Linear 'linear1' holds 1,000,001,000,000 of the "
                           "model's 1,000,009,000,003 parameters; their weights alone need "
                           "3,725.3 GiB, and only ")
    assert line.endswith("of memory is available: make the layers smaller")


def _limit_memory():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc")
def test_a_1_5e9_parameter_linear_is_refused_before_anything_is_allocated(tmp_path):
    """Under a 4 GB address-space limit, allocating the 5.6 GiB of weights would fail with a
    MemoryError or a kill; the refusal names the node and the figure instead, at once."""
    path = _big_project(tmp_path, ("Linear", {"out_features": 1_000_000}),
                        ("Linear", {"out_features": 1500}), ("Linear", {"out_features": 3}))
    expected = ("Linear 'linear1' holds 1,500,001,500 of the model's 1,505,006,003 parameters; "
                "their weights alone need 5.6 GiB, and only ")
    (code, _, out), (train_code, err, _) = run_all(
        [["validate", path], ["train", path, "--out", str(tmp_path / "run")]], _limit_memory)
    assert code == 1 and f"error: [linear1] {expected}" in out, out
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert train_code == 1 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: the graph cannot be trained: {expected}"), err


@pytest.mark.parametrize("data, expected", [
    ({"text": {"max_len": 10**12}}, "data settings: text.max_len must be at most 100,000, not "
                                    "1,000,000,000,000"),
    ({"fill_value": float("inf")}, "data settings: fill_value must be a number, not inf"),
])
def test_settings_that_would_allocate_without_bound_are_refused(data, expected):
    with pytest.raises(DataError) as err:
        DataSettings.from_dict(data)
    assert str(err.value) == expected


def test_huge_activations_are_refused_by_name_too(monkeypatch):
    """No parameters at all, but an Input of 10^12 values per sample: training would allocate
    that per row of the batch."""
    from workbench.core import analyse, memory

    monkeypatch.setattr(memory, "available", lambda: 8 * memory.GiB)
    graph, _ = classifier(input_shape="1000000,1000000")
    problems = [p for p in analyse(graph, batch_size=32).errors if "GiB" in p.message]
    assert len(problems) == 1 and problems[0].training
    assert problems[0].message.startswith("Input 'input': its outputs; training needs about ")
    assert problems[0].message.endswith("activations of a batch of 32), and only 8.0 GiB of "
                                        "memory is available: make the layers or the batch "
                                        "smaller")


def test_features_that_cannot_fit_are_refused_before_they_are_built(tmp_path, monkeypatch):
    import workbench.data.prepared as prepared_module
    from workbench.core import memory

    body = "".join(f"v{i // 2},{i % 7},{i % 2}\n" for i in range(600))  # 300 values, each twice
    path = write(tmp_path, "wide.csv", "code,x,y\n" + body)
    monkeypatch.setattr(prepared_module, "SIZE_FLOOR", 0)
    monkeypatch.setattr(memory, "available", lambda: 64 * 1024)
    assert message(prepare, DataSettings(path=str(path))) == (
        f"{path}: the features would take 0.6 MiB in memory (600 rows × 276 values); only "
        "0.1 MiB is available; column 'code' one-hot encodes to 275 columns: set categorical "
        "to index, or ignore it")  # the categories the training split holds
    prepare(DataSettings(path=str(path), categorical="index"))  # 2 values a row: fits
