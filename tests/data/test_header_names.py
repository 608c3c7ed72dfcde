"""Header rows as real tables write them: long names of many words, names over text columns,
a line break inside a quoted name, repeated and empty names, names holding `,;<TAB>"` — each
read as a header with the right names (or a one-line warning), never taken for a data row;
while the headerless text<TAB>label form stays headerless."""
from __future__ import annotations

import csv
import io

import pytest

from tests.data.helpers import write
from workbench.data import inspect, read_table

LONG = "Average number of rooms per dwelling in the town (RM), measured over many years"
CLASSES = ["good", "bad", "good", "good", "bad", "bad", "good", "bad"]


def table(rows, delimiter=",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return out.getvalue()


def text_rows(n=8):
    return [[f"review number {i} says it is {c} really", c] for i, c in zip(range(n), CLASSES * 3)]


@pytest.mark.parametrize("delimiter,name", [(",", "t.csv"), ("\t", "t.tsv"), (";", "t.txt")])
def test_long_names_over_text_columns_are_a_header(tmp_path, delimiter, name):
    """Before: names over 64 characters or 5 words made the first line a data row ("label"
    became a class, columns column_1/column_2, exit 0)."""
    header = ["The description of the product as written by the customer", LONG]
    df, info = read_table(write(tmp_path, name, table([header] + text_rows(), delimiter)))
    assert info.has_header and not info.text_format and list(df.columns) == header
    assert len(df) == 8 and set(df[LONG]) == {"good", "bad"}
    schema = inspect(tmp_path / name)
    assert schema.targets == [LONG] and [c for c, _ in schema.classes] == ["bad", "good"]


def test_long_numeric_column_names(tmp_path):
    rows = [[LONG, "Per capita crime rate by town, in percent", "label"]]
    rows += [[f"{i * 0.5}", f"{i % 3}.5", c] for i, c in enumerate(CLASSES)]
    df, info = read_table(write(tmp_path, "h.csv", table(rows)))
    assert info.has_header and list(df.columns) == rows[0] and df[LONG].dtype == "float32"


def test_headerless_text_form_is_still_headerless(tmp_path):
    lines = [f"{t}\t{c}" for t, c in text_rows()]
    df, info = read_table(write(tmp_path, "train.txt", "\n".join(lines) + "\n"))
    assert (info.has_header, info.text_format) == (False, True)
    assert list(df.columns) == ["text", "label"] and len(df) == 8
    # a long first line over a label that comes again is data too
    first = "a very long first description of a package with many many words in it\tgood\n"
    df, info = read_table(write(tmp_path, "long.txt", first + "\n".join(lines) + "\n"))
    assert info.text_format and len(df) == 9 and df["text"].iloc[0].startswith("a very long")


def test_a_first_row_of_values_seen_again_is_data(tmp_path):
    rows = [["red", "big"], ["blue", "small"], ["red", "small"], ["blue", "big"], ["red", "big"]]
    df, info = read_table(write(tmp_path, "v.csv", table(rows)))
    assert not info.has_header and len(df) == 5


def test_a_line_break_in_a_quoted_name_reads_as_a_space(tmp_path):
    rows = [["rooms\n(RM)", "crime\r\nrate", "label"]] + [[str(i), "1.5", c] for i, c in enumerate(CLASSES)]
    df, info = read_table(write(tmp_path, "nl.csv", table(rows)))
    assert info.has_header and list(df.columns) == ["rooms (RM)", "crime rate", "label"]
    assert len(df) == 8 and df["rooms (RM)"].tolist() == [float(i) for i in range(8)]
    text = [["review\ntext", "label"]] + text_rows()
    df, info = read_table(write(tmp_path, "nlt.csv", table(text)))
    assert list(df.columns) == ["review text", "label"] and len(df) == 8


def test_a_stray_quote_in_a_headerless_text_line_is_not_a_header(tmp_path):
    lines = ['the 5" screen is good\tgood'] + [f"{t}\t{c}" for t, c in text_rows()]
    df, info = read_table(write(tmp_path, "q.txt", "\n".join(lines) + "\n"))
    assert info.text_format and not info.quoting and df["text"].iloc[0] == 'the 5" screen is good'


def test_repeated_names_are_numbered_with_a_warning(tmp_path):
    rows = [["x", "x", "x.1", "label"]] + [["1", "2", "3", c] for c in CLASSES]
    df, info = read_table(write(tmp_path, "d.csv", table(rows)))
    assert list(df.columns) == ["x", "x.2", "x.1", "label"]
    path = tmp_path / "d.csv"
    assert info.warnings == [f"{path}: line 1: the header names column 'x' again; this one is "
                             "read as 'x.2'"]
    text = [["t", "t"]] + text_rows()
    df, info = read_table(write(tmp_path, "dt.csv", table(text)))
    assert info.has_header and list(df.columns) == ["t", "t.1"] and len(df) == 8


def test_empty_names_get_column_numbers(tmp_path):
    rows = [["x", "", "label", ""]] + [[str(i), str(i % 3), c, ""] for i, c in enumerate(CLASSES)]
    df, info = read_table(write(tmp_path, "e.csv", table(rows)))
    assert info.has_header and list(df.columns) == ["x", "column_2", "label", "column_4"]
    schema = inspect(tmp_path / "e.csv")
    assert schema.column("column_4").role == "ignore" and schema.targets == ["label"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_names_holding_delimiters_and_quotes(tmp_path, delimiter):
    names = ["a,b", "c;d", 'e\tf"g"']
    rows = [names] + [["1.5", "2", c] for c in CLASSES]
    df, info = read_table(write(tmp_path, "p.csv", table(rows, delimiter)))
    assert info.delimiter == delimiter and info.has_header and list(df.columns) == names
    assert df['e\tf"g"'].tolist() == CLASSES and df["a,b"].tolist() == [1.5] * 8


def test_unprintable_names_are_escaped_in_messages_and_in_inspect(tmp_path, capsys):
    """A terminal escape or a line separator in a column name is shown as its escape: it can
    neither recolour nor move the user's terminal, nor split a one-line error."""
    from workbench.cli import main
    from workbench.data import DataError
    name = "a\x1b[31mRED\u2028x"
    path = write(tmp_path, "esc.csv", table([[name, "label"]] + [[str(i), c] for i, c in enumerate(CLASSES)]))
    assert read_table(path)[0].columns[0] == name  # the name itself is kept
    with pytest.raises(DataError) as info:
        inspect(path, target="zz")
    assert str(info.value) == (f"{path}: no column 'zz' to use as the target (columns: "
                               "a\\x1b[31mRED x, label)")  # a line separator: a space
    assert main(["data", "inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u2028" not in out and "a\\x1b[31mRED\\u2028x  numeric" in out
