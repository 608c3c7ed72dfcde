#!/usr/bin/env python3
"""Predict with the exported model: one `prediction` per row of a raw data file.

Usage:  python predict.py --data FILE_OR_FOLDER -o OUT.csv [--scores] [--threshold T [--positive CLASS]]

--threshold (two-class models): predict the positive class (the second class, or --positive)
when its probability is at least T, instead of taking the larger score. Lower it to find more
of a rare class at the price of more false alarms.

FILE is in the same format as the training file (same columns; a target column, if present,
is ignored; image paths in it are relative to its folder). A model that reads images also takes
a FOLDER of image files (or of class sub-folders of them) and writes `path,prediction` rows.
Needs only numpy, pandas and onnxruntime (and Pillow for images).
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = "__MODEL__"
RAW_INPUTS = __RAW_INPUTS__   # True: the model itself scales/encodes the raw columns

__PREPROCESS__


def raw_columns(df, pre):
    """The raw feature columns in CSV order, as the model with built-in preprocessing takes them."""
    feeds = {}
    for i, f in enumerate(pre["features"]):
        name = raw_input_name(f, i)
        if f["type"] == "numeric":
            feeds[name] = numbers(df[f["column"]]).astype(np.float32)[:, None]
        else:
            feeds[name] = np.array([k if k is not None else "" for k in keys(df[f["column"]])],
                                   dtype=object)[:, None]
    return feeds


def raw_input_name(f, i):
    return f"{i:02d}_" + (re.sub(r"\W+", "_", str(f["column"])).strip("_") or "column")


def predict(df, pre, session, base="."):
    if RAW_INPUTS:
        return session.run(None, raw_columns(df, pre))[0]
    xs, _ = transform_inputs(df, pre, base)
    names = [i.name for i in session.get_inputs()]
    wanted = [model_name(e["name"]) for e in inputs_of(pre)]
    if sorted(names) == sorted(wanted):  # fed by name: the model's order may differ
        feeds = dict(zip(wanted, xs))
    else:
        feeds = dict(zip(names, xs))
    return session.run(None, feeds)[0]


def model_name(text):
    """The model input an input group feeds: its name as a Python identifier (as compiled)."""
    name = re.sub(r"[^0-9A-Za-z_]+", "_", str(text).strip()).strip("_").lower() or "node"
    return "n_" + name if name[0].isdigit() else name


def read_data(path, pre):
    """(rows, the folder image paths are relative to, whether a folder was listed)."""
    images = [e for e in inputs_of(pre) if e["kind"] == "image"]
    if os.path.isdir(path):
        if len(images) != 1 or len(inputs_of(pre)) != 1:
            raise SystemExit(f"error: {path}: a folder is for a model that reads one image; "
                             "this one reads a data file")
        return pd.DataFrame({images[0]["image"]["column"]: list_images(path)}), path, True
    return read_raw(path, pre), os.path.dirname(os.path.abspath(path)), False


def probabilities(scores):
    """Rows of probabilities: kept as they are when they already are (a Softmax at the end),
    else softmax (raw scores and log-probabilities alike)."""
    flat = scores.reshape(len(scores), -1).astype(np.float64)
    if len(flat) and (flat >= 0).all() and (flat <= 1).all() and np.allclose(flat.sum(1), 1, atol=1e-4):
        return flat
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def thresholded(scores, pre, threshold, positive):
    """Class ids from a decision threshold on the positive class' probability."""
    classes = [str(c) for c in pre["target"]["classes"] or []]
    if len(classes) != 2:
        raise SystemExit(f"--threshold is for a two-class model; this one has {len(classes)} "
                         f"classes ({', '.join(classes)})")
    if not 0.0 < threshold < 1.0:
        raise SystemExit(f"--threshold must be between 0 and 1 (a probability), not {threshold}")
    if positive is None:
        index = 1
    elif positive in classes:
        index = classes.index(positive)
    else:
        raise SystemExit(f"--positive {positive!r} is not a class of this model: {', '.join(classes)}")
    chosen = probabilities(scores)[:, index] >= threshold
    return np.where(chosen, index, 1 - index)


def main(argv=None):
    import onnxruntime as ort
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True,
                   help="raw data file (CSV/TSV/TXT like the training file), or a folder of images")
    p.add_argument("-o", "--output", required=True, help="CSV file to write")
    p.add_argument("--model", default=os.path.join(HERE, MODEL))
    p.add_argument("--preprocessing", default=os.path.join(HERE, "preprocessing.json"))
    p.add_argument("--scores", action="store_true", help="also write the raw model outputs")
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--threshold", type=float, metavar="T",
                   help="two-class models: the positive class when its probability is >= T")
    p.add_argument("--positive", metavar="CLASS",
                   help="the positive class for --threshold (default: the second class)")
    args = p.parse_args(argv)
    if args.positive is not None and args.threshold is None:
        p.error("--positive goes with --threshold")
    pre = load_preprocessing(args.preprocessing)
    if args.threshold is not None and pre["target"]["task"] != "classification":
        p.error("--threshold is for a two-class classifier; this model predicts numbers")
    df, base, listed = read_data(args.data, pre)
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    chunks = [predict(df.iloc[i:i + args.batch_size], pre, session, base)
              for i in range(0, max(len(df), 1), args.batch_size)]
    scores = np.concatenate(chunks, axis=0)[: len(df)]
    out = pd.DataFrame()
    images = [e["image"]["column"] for e in inputs_of(pre) if e["kind"] == "image"]
    if images:
        out["path"] = df[images[0]].astype(str).to_numpy() if not listed else \
            [os.path.join(args.data, p) for p in df[images[0]]]
    task = pre["target"]["task"]
    if task == "classification" and args.threshold is not None:
        out["prediction"] = decode(thresholded(scores, pre, args.threshold, args.positive), pre)
    elif task == "classification":
        out["prediction"] = decode(scores.argmax(axis=-1), pre)
    else:
        flat = scores.reshape(len(df), -1)
        out["prediction"] = flat[:, 0] if flat.shape[1] == 1 else [list(r) for r in flat]
    if args.scores:
        for j in range(scores.reshape(len(df), -1).shape[1]):
            label = pre["target"]["classes"][j] if task == "classification" else j
            out[f"score_{label}"] = scores.reshape(len(df), -1)[:, j]
    out.to_csv(args.output, index=False)
    print(f"wrote {len(out)} predictions to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
