"""Issue 13: the automatic target is the column a person would pick — a categorical column
with few classes named like a label beats a trailing number (penguins: species, not year) —
and `workbench new` says which column it took, and why, in its first line."""
from __future__ import annotations

import random

from tests.data.helpers import write
from workbench.cli import main
from workbench.data import DataSettings, inspect
from workbench.data.schema import guess_target, infer_schema
from workbench.data.read import read_table

HEADER = "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n"


def penguins(folder, rows: int = 60):
    """A table shaped like the public penguins data (made here, not downloaded)."""
    rng = random.Random(0)
    species, islands = ["Adelie", "Gentoo", "Chinstrap"], ["Torgersen", "Biscoe", "Dream"]
    lines = [HEADER]
    for i in range(rows):
        s = i % 3
        lines.append(f"{species[s]},{islands[(i // 3) % 3]},{38 + 5 * s + rng.random() * 3:.1f},"
                     f"{15 + rng.random() * 4:.1f},{190 + 10 * s + rng.randint(0, 9)},"
                     f"{3500 + 500 * s + rng.randint(0, 300)},{rng.choice(['male', 'female'])},"
                     f"{2007 + i % 3}\n")
    return write(folder, "penguins.csv", "".join(lines))


def test_a_label_named_categorical_column_wins_over_a_trailing_number(tmp_path):
    schema = inspect(penguins(tmp_path))
    assert schema.targets == ["species"] and schema.task == "classification"
    assert [name for name, _ in schema.classes] == ["Adelie", "Chinstrap", "Gentoo"]
    assert schema.column("species").note == "guessed: a categorical column named like a label"
    assert schema.column("year").role == "feature"


def test_the_cli_and_the_data_panel_share_one_guess(tmp_path):
    """The Data panel calls infer_schema (data_panel.load_job), which calls guess_target."""
    path = penguins(tmp_path)
    df, info = read_table(path)
    schema = infer_schema(df, info, DataSettings())
    targets, why = guess_target(df, info, DataSettings(), None, schema.columns)
    assert targets == schema.targets == ["species"] and why == schema.column("species").note


def test_other_guesses_stay(tmp_path):
    # a column literally called like a target still wins wherever it is
    p = write(tmp_path, "a.csv", "class,kind,x\n" + "".join(f"{i % 2},{'ab'[i % 2]},{i}\n"
                                                            for i in range(10)))
    assert inspect(p).targets == ["class"]
    # a label word inside a name counts ('wine type'); too many classes do not
    p = write(tmp_path, "b.csv", "wine_type,x,z\n" + "".join(f"{'rw'[i % 2]},{i},{i * 0.5}\n"
                                                            for i in range(10)))
    assert inspect(p).targets == ["wine_type"]
    many = "".join(f"c{i % 30},{i},{i % 2}\n" for i in range(90))
    p = write(tmp_path, "c.csv", "category,x,z\n" + many)
    assert inspect(p).targets == ["z"]
    # nothing named like a label: the last column, as before
    p = write(tmp_path, "d.csv", "a,b,c\n" + "".join(f"{i},{'xy'[i % 2]},{i % 3}\n" for i in range(9)))
    schema = inspect(p)
    assert schema.targets == ["c"]
    assert schema.column("c").note == "guessed: the last column that can be a label"
    # the user's choice is not a guess
    assert inspect(p, target="b").column("b").note == ""


def test_new_says_the_target_and_why_in_its_first_line(tmp_path, capsys):
    path = penguins(tmp_path)
    assert main(["new", str(tmp_path / "p"), "--template", "mlp-classifier",
                 "--data", str(path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"wrote {tmp_path / 'p.wbproj'}: target 'species' (guessed: a "
                            "categorical column named like a label; --target COL to choose "
                            "another); classification, 3 classes, input ")
    assert main(["new", str(tmp_path / "q"), "--template", "mlp-classifier", "--data", str(path),
                 "--target", "island"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"wrote {tmp_path / 'q.wbproj'}: target 'island'; classification, "
                            "3 classes")
