"""Reading: dialects, encodings, headers, the text<TAB>label form, and previews."""
from __future__ import annotations

import numpy as np

import pytest

from tests.data.helpers import DATA, write
from workbench.data import DataError, preview, read_table


def test_iris_reads_numbers_as_float32():
    df, info = read_table(DATA / "iris.csv")
    assert (info.delimiter, info.has_header, info.encoding, info.rows) == (",", True, "utf-8", 150)
    assert list(df.columns[:2]) == ["sepal_length", "sepal_width"]
    assert all(df[c].dtype == np.float32 for c in df.columns[:4])
    assert df["species"].iloc[0] == "setosa"


def test_debian_text_form_keeps_quotes_in_text():
    df, info = read_table(DATA / "debian_sections" / "train.txt")
    assert (info.delimiter, info.has_header, info.text_format, info.quoting) == ("\t", False, True, False)
    assert list(df.columns) == ["text", "label"] and len(df) == 8032
    raw = (DATA / "debian_sections" / "train.txt").read_text(encoding="utf-8").splitlines()
    quoted = [i for i, line in enumerate(raw) if '"' in line]
    assert quoted, "the data set has descriptions with quotes"
    for i in quoted:
        assert df["text"].iloc[i] + "\t" + df["label"].iloc[i] == raw[i]


def test_label_first_text_form_names_its_columns_by_content(tmp_path):
    """label<TAB>text (the label first) is the same form turned round: the column with more
    words is the text, so the label is still the target and the text the feature."""
    from workbench.data import inspect
    raw = (DATA / "debian_sections" / "test.txt").read_text(encoding="utf-8").splitlines()
    p = write(tmp_path, "flipped.txt", "".join("\t".join(reversed(r.split("\t"))) + "\n" for r in raw))
    df, info = read_table(p)
    assert info.text_format and list(df.columns) == ["label", "text"] and len(df) == 2008
    schema = inspect(p)
    assert schema.targets == ["label"] and len(schema.classes) == 10
    assert schema.column("text").type == "text" and schema.column("text").role == "feature"
    lines = ["\t".join(reversed(r.split("\t"))) for r in raw[:40]]
    lines[5] = "fonts\t"
    bad = write(tmp_path, "bad.txt", "\n".join(lines) + "\n")
    with pytest.raises(DataError) as e:
        read_table(bad)
    assert str(e.value) == f"{bad}: line 6: no text (expected label<TAB>text): 'fonts'"


def test_delimiters(tmp_path):
    rows = [["a", "b", "c"], ["1", "2", "x"], ["3", "4", "y"], ["5", "6", "x"]]
    for name, sep in [("semi.csv", ";"), ("tab.tsv", "\t"), ("pipe.txt", "|")]:
        p = write(tmp_path, name, "".join(sep.join(r) + "\n" for r in rows))
        df, info = read_table(p)
        assert info.delimiter == sep and info.has_header
        assert df["b"].tolist() == [2.0, 4.0, 6.0] and df["c"].tolist() == ["x", "y", "x"]
    p = write(tmp_path, "spaces.txt", "a  b   c\n 1 2 x\n3   4 y\n5 6 x\n")
    df, info = read_table(p)
    assert info.delimiter_name == "whitespace" and df["b"].tolist() == [2.0, 4.0, 6.0]


def test_quoted_fields_with_delimiters_quotes_and_newlines(tmp_path):
    p = write(tmp_path, "q.csv", 'name,note,y\n"Smith, J","said ""hi""\nthen left",1\nLee,plain,0\n')
    df, info = read_table(p)
    assert df["name"].tolist() == ["Smith, J", "Lee"]
    assert df["note"].iloc[0] == 'said "hi"\nthen left'


def test_utf8_bom(tmp_path):
    p = write(tmp_path, "bom.csv", "\ufeffa,b\n1,x\n2,y\n")
    df, info = read_table(p)
    assert info.encoding == "utf-8-sig" and list(df.columns) == ["a", "b"] and not info.warnings


def test_utf16_with_bom(tmp_path):
    p = write(tmp_path, "u16.csv", "a,b\n1,é\n2,y\n", encoding="utf-16")
    df, info = read_table(p)
    assert info.encoding == "utf-16" and df["b"].tolist() == ["é", "y"]


def test_decimal_comma_with_semicolons(tmp_path):
    p = write(tmp_path, "eu.csv", "a;b;y\n1,5;2,25;x\n3,0;-4,5;y\n")
    df, info = read_table(p)
    assert info.decimal == "," and df["a"].tolist() == [1.5, 3.0] and df["b"].tolist() == [2.25, -4.5]


def test_header_detection(tmp_path):
    df, info = read_table(write(tmp_path, "n.csv", "1,2,3\n4,5,6\n"))
    assert not info.has_header and list(df.columns) == ["column_1", "column_2", "column_3"]
    df, info = read_table(write(tmp_path, "w.csv", "colour,size\nred,big\nblue,small\nred,small\n"))
    assert info.has_header and list(df.columns) == ["colour", "size"]
    df, info = read_table(write(tmp_path, "v.csv", "red,big\nblue,small\nred,small\n"))
    assert not info.has_header and len(df) == 3
    df, info = read_table(write(tmp_path, "t.tsv", "text\tlabel\nsome words here\tA\nmore words\tB\n"))
    assert info.has_header and not info.text_format and list(df.columns) == ["text", "label"]


def test_missing_tokens(tmp_path):
    df, _ = read_table(write(tmp_path, "m.csv", "a,b\n1,x\n?,NA\n3,\n"))
    assert df["a"].isna().tolist() == [False, True, False]
    assert df["b"].isna().tolist() == [False, True, True]


def test_text_form_keeps_words_that_look_missing(tmp_path):
    df, _ = read_table(write(tmp_path, "t.txt", "None of these\tnet\nNA\tweb\nnull\tnet\n"))
    assert df["text"].tolist() == ["None of these", "NA", "null"]


def test_duplicate_header_names(tmp_path):
    df, info = read_table(write(tmp_path, "d.csv", "a,a,y\n1,2,x\n3,4,z\n"))
    assert list(df.columns) == ["a", "a.1", "y"]


def test_preview_reads_only_the_start(tmp_path):
    lines = [f"{i},{i * 0.5},{'abc'[i % 3]}" for i in range(200_000)]
    p = write(tmp_path, "big.csv", "n,x,k\n" + "\n".join(lines) + "\n7,8,9,10,11\n")  # ragged end
    pv = preview(p, rows=20)
    assert len(pv.frame) == 20 and not pv.complete
    assert abs(pv.estimated_rows - 200_001) < 20_000
    summary = {c.name: c for c in pv.columns}
    assert summary["x"].type == "numeric" and summary["k"].type == "categorical"
    assert summary["n"].min == 0 and summary["n"].max == 19


def test_preview_of_a_small_file_is_complete():
    pv = preview(DATA / "iris.csv", rows=500)
    assert pv.complete and pv.estimated_rows == 150 and len(pv.frame) == 150


def test_windows_line_endings(tmp_path):
    df, info = read_table(write(tmp_path, "crlf.csv", "a,b\r\n1,x\r\n2,y\r\n"))
    assert df["a"].tolist() == [1.0, 2.0] and df["b"].tolist() == ["x", "y"]


def test_contract_names_are_exported():
    import workbench.data as data

    for name in ("DataError", "DataSettings", "read_table", "preview", "inspect", "prepare",
                 "Split", "PreparedData", "Preprocessor", "batches", "augment", "kfold"):
        assert hasattr(data, name), name
