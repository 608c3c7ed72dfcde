#!/usr/bin/env python3
"""Predict with the exported model: one `prediction` per row of a raw data file.

Usage:  python predict.py --data FILE -o OUT.csv [--scores]

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


def main(argv=None):
    import onnxruntime as ort
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="raw data file (CSV/TSV/TXT like the training file)")
    p.add_argument("-o", "--output", required=True, help="CSV file to write")
    p.add_argument("--model", default=os.path.join(HERE, MODEL))
    p.add_argument("--preprocessing", default=os.path.join(HERE, "preprocessing.json"))
    p.add_argument("--scores", action="store_true", help="also write the raw model outputs")
    p.add_argument("--batch-size", type=int, default=4096)
    args = p.parse_args(argv)
    pre = load_preprocessing(args.preprocessing)
    df = read_raw(args.data, pre)
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    chunks = [predict(df.iloc[i:i + args.batch_size], pre, session)
              for i in range(0, max(len(df), 1), args.batch_size)]
    scores = np.concatenate(chunks, axis=0)[: len(df)]
    out = pd.DataFrame()
    task = pre["target"]["task"]
    if task == "classification":
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
