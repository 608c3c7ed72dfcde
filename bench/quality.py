"""Benchmark: every template's defaults against scikit-learn baselines on many public tables.

    .venv/bin/python bench/quality.py [--seeds 0,1,2] [--only wine,iris] [--write]

Each table is split stratified 80/20 (`train_test_split(..., random_state=seed)`; the test part
is written as the separate test file), then, as a new user would:
`workbench new --template T --data train.csv --test-data test.csv` and `workbench train` with
no other flag. The baselines see the same rows: a standardised logistic regression (ridge for
numbers), a 64-unit MLP (scikit-learn's MLPClassifier/MLPRegressor, early stopping off,
max_iter 1000), and TF-IDF + logistic regression for text. Figures are the test accuracy
(R² for regression), the mean over the seeds with the spread (min–max) beside it, so that a
one-row difference on a 30-row test split is not read as a verdict.

Tables: the bundled ones (resources/examples/data: iris, digits, Debian sections) and those
scikit-learn ships in its package (wine, breast cancer, diabetes): nothing is
downloaded and nothing is copied into the tests. --write puts the table into
docs/benchmarks.md between the `quality` markers.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "resources" / "examples" / "data"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"


# -- tables --------------------------------------------------------------------------------

def _sk(name: str, target_names: bool = True) -> pd.DataFrame:
    from sklearn import datasets
    d = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = d.frame.rename(columns={"target": "label"})
    if target_names:
        frame["label"] = [str(d.target_names[i]) for i in frame["label"]]
    return frame


def tables() -> dict[str, dict]:
    """name -> {frame (or text lines), task, templates}."""
    iris = pd.read_csv(DATA / "iris.csv").rename(columns={"species": "label"})
    digits = pd.read_csv(DATA / "digits.csv").rename(columns={"digit": "label"})
    lines = [ln.split("\t") for ln in (DATA / "debian_sections" / "train.txt").read_text(
        encoding="utf-8").splitlines() + (DATA / "debian_sections" / "test.txt").read_text(
        encoding="utf-8").splitlines() if "\t" in ln]
    debian = pd.DataFrame(lines, columns=["text", "label"])
    cancer = _sk("breast_cancer")
    cancer.columns = [c.replace(" ", "_") for c in cancer.columns]
    diabetes = _sk("diabetes", target_names=False)
    iris_reg = iris.drop(columns=["label"]).rename(columns={"petal_width": "label"})
    return {
        "iris": {"frame": iris, "task": "classification", "templates": ["mlp-classifier"]},
        "wine": {"frame": _sk("wine"), "task": "classification", "templates": ["mlp-classifier"]},
        "breast cancer": {"frame": cancer, "task": "classification", "templates": ["mlp-classifier"]},
        "digits": {"frame": digits, "task": "classification",
                   "templates": ["mlp-classifier", "cnn-classifier"]},
        "debian sections": {"frame": debian, "task": "text", "templates": [
            "text-classifier", "lstm-classifier", "transformer-classifier"]},
        "iris petal width": {"frame": iris_reg, "task": "regression", "templates": ["mlp-regressor"]},
        "diabetes": {"frame": diabetes, "task": "regression", "templates": ["mlp-regressor"]},
    }


def split(frame: pd.DataFrame, task: str, seed: int):
    from sklearn.model_selection import train_test_split
    stratify = frame["label"] if task != "regression" else None
    return train_test_split(frame, test_size=0.2, stratify=stratify, random_state=seed)


# -- Workbench, as a user runs it -----------------------------------------------------------

def workbench(template: str, table: dict, train: pd.DataFrame, test: pd.DataFrame, folder: Path) -> dict:
    from workbench.cli import main
    text = table["task"] == "text"
    suffix = ".txt" if text else ".csv"
    paths = folder / f"train{suffix}", folder / f"test{suffix}"
    for frame, path in zip((train, test), paths):
        if text:
            path.write_text("".join(f"{t}\t{y}\n" for t, y in zip(frame["text"], frame["label"])),
                            encoding="utf-8")
        else:
            frame.to_csv(path, index=False)
    project = folder / f"{template}.wbproj"
    args = ["new", str(project), "--template", template, "--data", str(paths[0]),
            "--test-data", str(paths[1]), "--force"]
    if not text:
        args += ["--target", "label"]
    if template == "cnn-classifier":
        args += ["--input-shape", "1,8,8"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if main(args) != 0:
            raise RuntimeError(err.getvalue())
        t0 = time.perf_counter()
        if main(["train", str(project), "--json"]) != 0:
            raise RuntimeError(err.getvalue())
    summary = json.loads(out.getvalue()[out.getvalue().index("{"):])
    summary["wall_s"] = time.perf_counter() - t0
    return summary


# -- scikit-learn baselines on the same rows ------------------------------------------------

def baselines(table: dict, train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict[str, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    import warnings
    task = table["task"]
    if task == "text":
        models = {"logistic": make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=2000))}
        x_train, x_test = train["text"], test["text"]
    else:
        x_train, x_test = train.drop(columns=["label"]).to_numpy(float), test.drop(columns=["label"]).to_numpy(float)
        if task == "classification":
            models = {"logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                      "mlp64": make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), max_iter=1000,
                                                                             random_state=seed))}
        else:
            models = {"logistic": make_pipeline(StandardScaler(), Ridge()),   # "linear" column
                      "mlp64": make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(64,), max_iter=1000,
                                                                            random_state=seed))}
    scores = {}
    for name, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x_train, train["label"])
        scores[name] = float(model.score(x_test, test["label"]))   # accuracy, or R²
    return scores


# -- the table -------------------------------------------------------------------------------

def figure(values: list[float]) -> str:
    if not values:
        return "—"
    mean = float(np.mean(values))
    return f"{mean:.3f}" if len(values) == 1 else f"{mean:.3f} ({min(values):.3f}–{max(values):.3f})"


def run(seeds: list[int], only: set[str] | None) -> list[dict]:
    rows = []
    for name, table in tables().items():
        if only and name not in only:
            continue
        found: dict[str, list] = {}
        epochs: dict[str, list] = {}
        for seed in seeds:
            train, test = split(table["frame"], table["task"], seed)
            for base, score in baselines(table, train, test, seed).items():
                found.setdefault(base, []).append(score)
            for template in table["templates"]:
                with tempfile.TemporaryDirectory() as tmp:
                    s = workbench(template, table, train, test, Path(tmp))
                metric = "r2" if table["task"] == "regression" else "accuracy"
                found.setdefault(template, []).append(s["test"][metric])
                epochs.setdefault(template, []).append(f"{s['best_epoch']}/{s['epochs_run']}")
                print(f"{name:18s} seed {seed} {template:24s} {s['test'][metric]:.4f} "
                      f"(kept epoch {s['best_epoch']} of {s['epochs_run']}, {s['wall_s']:.1f} s)",
                      file=sys.stderr, flush=True)
        best_base = max(np.mean(found[b]) for b in ("logistic", "mlp64") if b in found)
        for template in table["templates"]:
            rows.append({"table": name, "rows": len(table["frame"]), "task": table["task"],
                         "template": template, "workbench": found[template],
                         "logistic": found.get("logistic", []), "mlp64": found.get("mlp64", []),
                         "gap": float(np.mean(found[template]) - best_base),
                         "epochs": epochs[template]})
    return rows


def markdown(rows: list[dict], seeds: list[int], command: str) -> str:
    head = ("| table | rows | metric | template | Workbench | logistic / ridge | MLP 64 | gap to best "
            "baseline | kept epoch / run |\n|---|---:|---|---|---:|---:|---:|---:|---|")
    lines = [head]
    for r in rows:
        metric = "R²" if r["task"] == "regression" else "accuracy"
        gap = f"{100 * r['gap']:+.1f} pt"
        lines.append(f"| {r['table']} | {r['rows']:,} | {metric} | {r['template']} | {figure(r['workbench'])} "
                     f"| {figure(r['logistic'])} | {figure(r['mlp64'])} | {gap} | {', '.join(r['epochs'])} |")
    return (f"Command: `{command}` (split seeds {', '.join(map(str, seeds))}; mean and min–max over "
            f"them; test split 20 %, stratified for classes).\n\n" + "\n".join(lines) + "\n")


def write_doc(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in doc:
        start, end = doc.index(BEGIN), doc.index(END) + len(END)
        doc = doc[:start] + block + doc[end:]
    else:
        doc = doc.rstrip("\n") + "\n\n## Model quality: templates against scikit-learn\n\n" + block + "\n"
    DOC.write_text(doc, encoding="utf-8")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2", help="split seeds (comma-separated)")
    p.add_argument("--only", help="table names (comma-separated)")
    p.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    only = {s.strip() for s in args.only.split(",")} if args.only else None
    rows = run(seeds, only)
    command = "python bench/quality.py " + " ".join(sys.argv[1:])
    text = markdown(rows, seeds, command.strip())
    print(text)
    if args.write:
        write_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
