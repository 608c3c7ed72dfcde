#!/usr/bin/env python3
"""Predict with the exported model: one `prediction` per row of a raw data file.

Usage:  python predict.py --data FILE -o OUT.csv [--scores] [--threshold T [--positive CLASS]]

--threshold (two-class models): predict the positive class (the second class, or --positive)
when its probability is at least T, instead of taking the larger score. Lower it to find more
of a rare class at the price of more false alarms.

FILE is in the same format as the training file (same columns; a target column, if present,
is ignored). Needs only numpy, pandas and onnxruntime.
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


def predict(df, pre, session):
    name = session.get_inputs()[0].name
    if RAW_INPUTS:
        feeds = raw_columns(df, pre)
        scores = session.run(None, feeds)[0]
    else:
        x, _ = transform(df, pre)
        scores = session.run(None, {name: x})[0]
    return scores


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
    p.add_argument("--data", required=True, help="raw data file (CSV/TSV/TXT like the training file)")
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
    df = read_raw(args.data, pre)
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    chunks = [predict(df.iloc[i:i + args.batch_size], pre, session)
              for i in range(0, max(len(df), 1), args.batch_size)]
    scores = np.concatenate(chunks, axis=0)[: len(df)]
    out = pd.DataFrame()
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
