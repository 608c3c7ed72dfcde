"""The bundle's predict.py reads the files users hand it — written by another program than the
training file — into exactly the model inputs training made, or stops with one line naming
the file, line and column: a UTF-8 BOM, Latin-1, CRLF, `;` with decimal commas, another
column order, spaces after commas, a trailing empty column, a header over a headerless
training form; a missing column, a short line, a word or inf in a numeric column, an empty
file. The replay runs in-process here (numpy + pandas, as in the bundle); one test runs the
whole command line flow and predict.py in a subprocess."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.data.helpers import write
from workbench.data import DataSettings, prepare

HEADER = ["température", "x2", "colour", "label"]


def rows(n=40):
    out = []
    for i in range(n):
        label = "été" if i % 2 else "hiver"
        out.append([f"{i * 0.25 + (i % 2) * 3:.2f}", f"{(i * 7) % 5 - 2:.1f}", "rgb"[i % 3], label])
    return out


def text(rows_, delimiter=",", header=HEADER, decimal="."):
    out = io.StringIO()
    w = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    w.writerow(header)
    for r in rows_:
        w.writerow([v.replace(".", decimal) if j < 2 else v for j, v in enumerate(r)])
    return out.getvalue()


@pytest.fixture(scope="module")
def replay():
    from workbench.export.predict_script import predict_source
    scope = {"__file__": "predict.py", "__name__": "replay"}
    exec(compile(predict_source(), "predict.py", "exec"), scope)
    return scope


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """preprocessing.json of a comma/UTF-8 training file, and the inputs it gives."""
    folder = tmp_path_factory.mktemp("train")
    write(folder, "train.csv", text(rows()))
    data = prepare(DataSettings(path="train.csv"), folder)
    return data.preprocessor.to_dict(), folder / "train.csv"


def inputs(replay, pre, path):
    x, y = replay["transform"](replay["read_raw"](str(path), pre), pre)
    return x, y


def refusal(replay, pre, path) -> str:
    with pytest.raises(SystemExit) as info:
        inputs(replay, pre, path)
    text_ = str(info.value.code)
    assert "\n" not in text_ and "Traceback" not in text_
    return text_


def test_files_written_otherwise_give_the_same_inputs(replay, trained, tmp_path):
    pre, train = trained
    want_x, want_y = inputs(replay, pre, train)
    assert (want_y >= 0).all()
    body = text(rows())
    order = [3, 1, 0, 2]
    variants = {
        "bom.csv": ("\ufeff" + body).encode("utf-8"),
        "latin1.csv": body.encode("latin-1"),
        "crlf.csv": body.replace("\n", "\r\n").encode(),
        "semi.csv": text(rows(), ";", decimal=",").encode(),
        "tab.tsv": text(rows(), "\t").encode(),
        "order.csv": text([[r[j] for j in order] for r in rows()], header=[HEADER[j] for j in order]).encode(),
        "spaces.csv": body.replace(",", ", ", 3).encode(),  # in the header (values keep theirs)
        "trailing.csv": "".join(line + ",\n" for line in body.splitlines()).encode(),
    }
    for name, raw in variants.items():
        x, y = inputs(replay, pre, write(tmp_path, name, raw))
        assert np.array_equal(x, want_x) and np.array_equal(y, want_y), name


def test_semicolon_training_reads_a_comma_file(replay, tmp_path):
    write(tmp_path, "eu.csv", text(rows(), ";", decimal=","))
    data = prepare(DataSettings(path="eu.csv"), tmp_path)
    pre = data.preprocessor.to_dict()
    assert pre["read"]["delimiter"] == ";" and pre["read"]["decimal"] == ","
    want = inputs(replay, pre, tmp_path / "eu.csv")[0]
    got = inputs(replay, pre, write(tmp_path, "us.csv", text(rows())))[0]
    assert np.array_equal(got, want)


def test_header_names_are_read_as_training_named_them(replay, tmp_path):
    header = ["rooms\n(RM)", "", "x", "x", "label"]
    body = [[f"{i}", f"{i % 3}", f"{i % 4}", f"{i % 5}", "ab"[i % 2]] for i in range(30)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header] + body)
    write(tmp_path, "h.csv", out.getvalue())
    data = prepare(DataSettings(path="h.csv"), tmp_path)
    pre = data.preprocessor.to_dict()
    assert [f["column"] for f in pre["features"]] == ["rooms (RM)", "column_2", "x", "x.1"]
    x, y = inputs(replay, pre, tmp_path / "h.csv")
    assert np.allclose(x, data.preprocessor.transform(data_frame(tmp_path / "h.csv"))[0])


def data_frame(path):
    from workbench.data import read_table
    return read_table(path)[0]


def test_what_cannot_be_read_is_one_line_naming_file_line_and_column(replay, trained, tmp_path):
    pre, _ = trained
    body = text(rows()).splitlines()
    missing = write(tmp_path, "missing.csv", "".join(
        ",".join(f for j, f in enumerate(line.split(",")) if j != 1) + "\n" for line in body))
    assert refusal(replay, pre, missing) == (f"error: {missing}: no column 'x2' (the model was "
                                             "trained with it; this file has 'température', "
                                             "'colour', 'label')")
    short = write(tmp_path, "short.csv", "\n".join(body[:4] + ["1.5"] + body[4:]) + "\n")
    assert refusal(replay, pre, short) == (f"error: {short}: line 5: 1 field(s), the model needs "
                                           "column 'colour' (field 3): '1.5'")
    word = write(tmp_path, "word.csv", "\n".join(body[:3] + ["abc,1,r,été"] + body[3:]) + "\n")
    assert refusal(replay, pre, word) == (f"error: {word}: line 4, column 'température': 'abc' "
                                          "is not a finite number")
    inf = write(tmp_path, "inf.csv", "\n".join(body[:2] + ["1,inf,r,été"] + body[2:]) + "\n")
    assert refusal(replay, pre, inf) == (f"error: {inf}: line 3, column 'x2': 'inf' is not a "
                                         "finite number")
    empty = write(tmp_path, "empty.csv", "")
    assert refusal(replay, pre, empty) == f"error: {empty}: the file is empty"
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.csv")
        assert refusal(replay, pre, tmp_path / "pipe.csv") == (
            f"error: {tmp_path / 'pipe.csv'}: not a regular file: only regular files are read")
    x, y = inputs(replay, pre, write(tmp_path, "header_only.csv", body[0] + "\n"))
    assert x.shape == (0, x.shape[1]) and len(y) == 0  # no rows, no predictions: not an error


def test_a_header_over_the_headerless_text_form_is_not_a_row(replay, tmp_path):
    lines = [f"{'good fine nice' if i % 2 else 'bad poor awful'} w{i}\t{'pos' if i % 2 else 'neg'}"
             for i in range(30)]
    write(tmp_path, "train.txt", "\n".join(lines) + "\n")
    pre = prepare(DataSettings(path="train.txt"), tmp_path).preprocessor.to_dict()
    assert pre["read"]["has_header"] is False
    want = inputs(replay, pre, tmp_path / "train.txt")
    got = inputs(replay, pre, write(tmp_path, "h.txt", "text\tlabel\n" + "\n".join(lines) + "\n"))
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_command_line_flow_on_a_latin1_semicolon_file(tmp_path):
    """inspect, new, validate, train, export --format bundle, then predict.py on the test file
    in another dialect (BOM, commas): the accuracy of predictions.csv is the trainer's."""
    from workbench.cli import main
    pytest.importorskip("onnxruntime")
    eu = [[r[0], r[1], r[2], r[3]] for r in rows(80)]
    write(tmp_path, "train.csv", text(eu[:60], ";", decimal=",").encode("latin-1"))
    write(tmp_path, "test.csv", text(eu[60:], ";", decimal=",").encode("latin-1"))
    write(tmp_path, "test_utf8.csv", ("\ufeff" + text(eu[60:])).encode("utf-8"))
    project, run = tmp_path / "p.wbproj", tmp_path / "run"
    assert main(["data", "inspect", str(tmp_path / "train.csv")]) == 0
    assert main(["new", str(project), "--template", "mlp-classifier", "--data",
                 str(tmp_path / "train.csv"), "--test-data", str(tmp_path / "test.csv")]) == 0
    assert main(["validate", str(project)]) == 0
    assert main(["train", str(project), "--epochs", "2", "--out", str(run)]) == 0
    assert main(["export", str(project), "--run", str(run), "--format", "bundle",
                 "-o", str(tmp_path / "b")]) == 0
    accuracy = json.loads((run / "summary.json").read_text(encoding="utf-8"))["test"]["accuracy"]
    truth = [r[3] for r in eu[60:]]
    for data in ("test.csv", "test_utf8.csv"):
        out = tmp_path / f"pred_{data}"
        done = subprocess.run([sys.executable, str(tmp_path / "b" / "predict.py"), "--data",
                               str(tmp_path / data), "-o", str(out)], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        got = [line for line in out.read_text(encoding="utf-8").splitlines()[1:]]
        assert len(got) == 20
        assert sum(a == b for a, b in zip(got, truth)) / 20 == pytest.approx(accuracy), data
