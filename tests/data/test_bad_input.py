"""Every bad input of issue 3 gives exactly one line naming the file and, where it applies,
the line, the column and an example value — and nothing is written."""
from __future__ import annotations

import pytest

from tests.data.helpers import write
from workbench.data import DataError, DataSettings, inspect, read_table
from workbench.data.prepared import prepare


def message(fn, *args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_missing_file(tmp_path):
    p = tmp_path / "nothing.csv"
    assert message(read_table, p) == f"{p}: no such file"


def test_folder_instead_of_file(tmp_path):
    assert message(read_table, tmp_path) == f"{tmp_path}: is a folder, not a file"


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file(tmp_path, content):
    p = write(tmp_path, "empty.csv", content)
    assert message(read_table, p) == f"{p}: the file is empty"


def test_header_only(tmp_path):
    p = write(tmp_path, "head.csv", "a,b,label\n")
    assert message(read_table, p) == f"{p}: the file has a header (a, b, label) but no data rows"


def test_binary_file(tmp_path):
    p = write(tmp_path, "data.csv", b"a,b\n1,2\n\x00\x01\x02\xff")
    assert message(read_table, p) == f"{p}: not a text file (binary data at byte 8)"


def test_excel_file_named_csv(tmp_path):
    p = write(tmp_path, "sheet.csv", b"PK\x03\x04" + bytes(100))
    assert message(read_table, p) == \
        f"{p}: not a text file (looks like a ZIP or Excel (.xlsx) file); save it as CSV"


def test_row_with_too_many_fields(tmp_path):
    p = write(tmp_path, "ragged.csv", "a,b,y\n1,2,x\n3,4,z,9\n5,6,x\n")
    assert message(read_table, p) == f"{p}: line 3: 4 fields where the header has 3: '3,4,z,9'"


def test_quote_never_closed_names_the_line_it_opens(tmp_path):
    p = write(tmp_path, "open.csv", 'a,b,c\n1,2,x\n3,4,"y\n5,6,z\n7,8,x\n')
    assert message(read_table, p) == \
        f"{p}: line 3: a quoted field opens here and is never closed (the file ends inside the quotes)"


def test_row_with_too_few_fields(tmp_path):
    p = write(tmp_path, "short.csv", "a,b,y\n1,2,x\n3,4,z\n\n5,6\n7,8,x\n")
    assert message(read_table, p) == f"{p}: line 5: 2 fields where the header has 3: '5,6'"


def test_short_row_in_a_headerless_file(tmp_path):
    p = write(tmp_path, "nohead.csv", "1,2,3\n4,5,6\n7,8\n")
    assert message(read_table, p) == f"{p}: line 3: 2 fields where the first line has 3: '7,8'"


def test_non_number_in_numeric_feature(tmp_path):
    rows = "".join(f"{i}.5,{i},{'ab'[i % 2]}\n" for i in range(20))
    rows = rows.replace("7.5,7,b", "7.5,abc,b")
    p = write(tmp_path, "typo.csv", "x1,x2,y\n" + rows)
    assert message(inspect, p) == f"{p}: line 9, column 'x2': 'abc' is not a number"


def test_non_number_after_the_sample(tmp_path):
    """Past the sniffed sample the column is read as float32; the fast read fails and the
    diagnosis still names the line."""
    lines = [f"{i},{i % 7}.25,{i % 2}" for i in range(20000)]
    lines[15000] = "15000,1O.25,0"  # a letter O typed for a zero
    p = write(tmp_path, "late.csv", "id,x,y\n" + "\n".join(lines) + "\n")
    assert message(read_table, p) == f"{p}: line 15002, column 'x': '1O.25' is not a number"


def test_target_with_one_class(tmp_path):
    p = write(tmp_path, "one.csv", "a,b,label\n1,2,yes\n3,4,yes\n5,6,yes\n")
    assert message(inspect, p) == (f"{p}: the target column 'label' has one class only ('yes'); "
                                   "classification needs at least 2")


def test_text_line_without_label(tmp_path):
    p = write(tmp_path, "train.txt", "a good package\tnet\nno label here\nfonts for you\tfonts\n")
    assert message(read_table, p) == \
        f"{p}: line 2: no label (expected text<TAB>label): 'no label here'"


def test_text_line_with_empty_label(tmp_path):
    p = write(tmp_path, "train.txt", "a good package\tnet\nfonts for you\tfonts\nempty label\t\n")
    assert message(read_table, p) == \
        f"{p}: line 3: no label (expected text<TAB>label): 'empty label'"


def test_unknown_target_column(tmp_path):
    p = write(tmp_path, "t.csv", "a,b,y\n1,2,0\n3,4,1\n")
    assert message(inspect, p, target="label") == \
        f"{p}: no column 'label' to use as the target (columns: a, b, y)"


def test_unknown_target_in_settings_names_the_project_path(tmp_path):
    write(tmp_path, "t.csv", "a,b,y\n1,2,0\n3,4,1\n")
    settings = DataSettings(path="t.csv", target="label")
    assert message(prepare, settings, tmp_path) == \
        "t.csv: no column 'label' to use as the target (columns: a, b, y)"


def test_latin1_fallback_is_a_warning(tmp_path):
    p = write(tmp_path, "cafe.csv", "name,price\ncafé,2\nthé,3\n", encoding="latin-1")
    df, info = read_table(p)
    assert info.encoding == "latin-1"
    assert info.warnings == [f"{p}: not valid UTF-8, read as Latin-1"]
    assert df["name"].tolist() == ["café", "thé"]


def test_latin1_after_the_sample(tmp_path):
    body = "".join(f"row{i},{i}\n" for i in range(10000))
    p = write(tmp_path, "late.csv", "name,value\n" + body + "crème,1\n", encoding="latin-1")
    df, info = read_table(p)
    assert info.encoding == "latin-1" and len(info.warnings) == 1
    assert df["name"].iloc[-1] == "crème"


def test_empty_and_constant_columns_are_ignored_with_a_warning(tmp_path):
    p = write(tmp_path, "odd.csv", "a,empty,same,y\n1,,7,x\n2,,7,z\n3,,7,x\n4,,7,z\n")
    schema = inspect(p)
    roles = {c.name: (c.type, c.role) for c in schema.columns}
    assert roles == {"a": ("numeric", "feature"), "empty": ("empty", "ignore"),
                     "same": ("constant", "ignore"), "y": ("categorical", "target")}
    assert schema.warnings == ["column 'empty' has no values: ignored",
                               "column 'same' has one value only ('7'): ignored"]


def test_bad_settings_value():
    with pytest.raises(DataError) as info:
        DataSettings.from_dict({"split": {"val": 1.5}})
    assert str(info.value) == "data settings: split.val must be at least 0 and below 1, not 1.5"
    with pytest.raises(DataError) as info:
        DataSettings.from_dict({"numeric": "zscore"})
    assert str(info.value) == ("data settings: numeric must be one of standardize, minmax, none; "
                               "not 'zscore'")


def test_nothing_is_written(tmp_path):
    p = write(tmp_path, "ragged.csv", "a,b,y\n1,2,x\n3,4,z,9\n")
    before = sorted(tmp_path.iterdir())
    with pytest.raises(DataError):
        prepare(DataSettings(path=p.name), tmp_path)
    assert sorted(tmp_path.iterdir()) == before
