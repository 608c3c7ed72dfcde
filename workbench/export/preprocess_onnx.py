"""Preprocessing inside the ONNX model (`--with-preprocessing`): numeric fills and scaling and
the category maps become ONNX nodes (ai.onnx.ml Imputer, Scaler, OneHotEncoder/LabelEncoder, which
onnxruntime runs), so the model takes the raw feature columns, one input each, in CSV order.
Text tokenisation stays in preprocessing.json (ONNX has no tokenizer that matches it).
Verified against the Python preprocessing + PyTorch model on raw rows."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.core.atomic import atomic_path
from workbench.export.report import Check, ExportReport, Verification
from workbench.export.verify import compare, one_line


def _name(col: dict, i: int) -> str:
    import re
    return f"{i:02d}_" + (re.sub(r"\W+", "_", str(col["column"])).strip("_") or "column")


def preprocessing_graph(pre: dict, model_input: str, input_shape=None):
    """An ONNX model: raw columns -> the model's input tensor (float32)."""
    from onnx import TensorProto, helper
    nodes, inputs, parts = [], [], []
    for i, col in enumerate(pre["features"]):
        name = _name(col, i)
        if col["type"] == "numeric":
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 1]))
            cur = name
            nodes.append(helper.make_node("Imputer", [cur], [name + "_filled"], domain="ai.onnx.ml",
                                          imputed_value_floats=[float(col["fill"])],
                                          replaced_value_float=float("nan")))
            cur = name + "_filled"
            offset, scale = float(np.float32(col["center"])), float(1.0 / np.float32(col["scale"]))
            nodes.append(helper.make_node("Scaler", [cur], [name + "_scaled"], domain="ai.onnx.ml",
                                          offset=[float(offset)], scale=[float(scale)]))
            parts.append(name + "_scaled")
        elif col["type"] in ("onehot", "index"):
            inputs.append(helper.make_tensor_value_info(name, TensorProto.STRING, ["N", 1]))
            cats = [str(c) for c in col["categories"]]
            cur = name
            if col["type"] == "index":
                nodes.append(helper.make_node("LabelEncoder", [cur], [name + "_id"], domain="ai.onnx.ml",
                                              keys_strings=cats, values_int64s=list(range(1, len(cats) + 1)),
                                              default_int64=0))
                nodes.append(helper.make_node("Cast", [name + "_id"], [name + "_enc"], to=TensorProto.FLOAT))
            else:
                nodes.append(helper.make_node("OneHotEncoder", [cur], [name + "_oh"], domain="ai.onnx.ml",
                                              cats_strings=cats, zeros=1))
                shape = name + "_shape"
                nodes.append(helper.make_node("Constant", [], [shape],
                                              value=helper.make_tensor(shape + "_v", TensorProto.INT64, [2],
                                                                       [-1, len(cats)])))
                nodes.append(helper.make_node("Reshape", [name + "_oh", shape], [name + "_r"]))
                nodes.append(helper.make_node("Cast", [name + "_r"], [name + "_enc"], to=TensorProto.FLOAT))
            parts.append(name + "_enc")
        else:
            raise ValueError(f"column '{col['column']}' is {col['type']}: only numeric and categorical "
                             "columns can be preprocessed inside the model")
    out = "features"
    nodes.append(helper.make_node("Concat", parts, [out if not input_shape or len(input_shape) < 2
                                                    else out + "_flat"], axis=1))
    if input_shape and len(input_shape) > 1:
        nodes.append(helper.make_node("Constant", [], ["image_shape"], value=helper.make_tensor(
            "image_shape_v", TensorProto.INT64, [len(input_shape) + 1], [-1, *input_shape])))
        nodes.append(helper.make_node("Reshape", [out + "_flat", "image_shape"], [out]))
    outputs = [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "preprocessing", inputs, outputs)
    return graph, [i.name for i in inputs], out


def add_preprocessing(run, model_path: str | Path, out_path: str | Path, *,
                      onnx_reference: bool = False) -> ExportReport:
    """Prefix the verified model at `model_path` with the preprocessing; write `out_path`.
    Verified against the Preprocessor + the PyTorch model, or (`onnx_reference`, for an int8
    model) + the model at `model_path` itself."""
    import onnx
    from onnx import compose, helper
    report = ExportReport("onnx+preprocessing")
    pre = run.preprocessing
    if pre and "inputs" in pre:  # version 2: several inputs, or an image
        report.warnings.append("the model reads several inputs or images: their preprocessing "
                               "stays in preprocessing.json (predict.py does it), the model keeps "
                               "taking prepared tensors")
        return report
    if not pre or not pre.get("features"):
        report.warnings.append("the run has no fitted preprocessing: nothing to build into the model")
        return report
    if pre.get("text") is not None:
        report.warnings.append("text tokenisation stays in preprocessing.json (predict.py does it): "
                               "the model keeps taking token ids")
        return report
    model = onnx.load(str(model_path))
    model_input = model.graph.input[0].name
    graph, names, out = preprocessing_graph(pre, model_input, pre["input"]["shape"])
    opsets = {o.domain: o.version for o in model.opset_import}
    pre_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opsets.get("", 18)),
                                                        helper.make_opsetid("ai.onnx.ml", opsets.get("ai.onnx.ml", 3))],
                                  ir_version=model.ir_version)
    merged = compose.merge_models(pre_model, model, io_map=[(out, model_input)])
    seen = {}
    for o in merged.opset_import:
        seen[o.domain] = max(seen.get(o.domain, 0), o.version)
    del merged.opset_import[:]
    merged.opset_import.extend(helper.make_opsetid(d, v) for d, v in seen.items())
    del merged.metadata_props[:]
    merged.metadata_props.extend(model.metadata_props)
    prop = merged.metadata_props.add()
    prop.key, prop.value = "workbench.raw_inputs", ",".join(names)
    with atomic_path(out_path) as tmp:  # verified under its temp name, then put in place
        onnx.save(merged, str(tmp))
        report.verification = verify_raw(run, tmp, pre, reference=Path(model_path) if onnx_reference else None)
    report.add_path(Path(out_path))
    return report


def verify_raw(run, path: Path, pre: dict, rows=None, reference: Path | None = None) -> Verification:
    """Raw rows through the model with built-in preprocessing vs preprocessing (Python) + PyTorch."""
    import onnx
    import pandas as pd
    import torch
    from workbench.export.onnx_export import session
    from workbench.export.predict_script import predict_source
    ver = Verification("onnxruntime on raw rows vs Workbench Preprocessor + PyTorch")
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:  # noqa: BLE001
        ver.problems.append("onnx.checker: " + one_line(exc))
    from workbench.data import Preprocessor
    scope: dict = {"__file__": "predict.py", "__name__": "workbench_predict"}
    exec(compile(predict_source(True), "predict.py", "exec"), scope)  # noqa: S102
    df = rows if rows is not None else _sample_rows(pre, scope)
    x, _ = Preprocessor.from_dict(pre).transform(df)  # the trainer's own preprocessing
    if reference is not None:
        ver.method = f"onnxruntime on raw rows vs Workbench Preprocessor + {reference.name}"
        expected = session(reference).run(None, {run.model.input_names[0]: x})[0]
    else:
        with torch.no_grad():
            expected = run.model.module(torch.from_numpy(x)).numpy()
    check = Check({"rows": len(df)})
    try:
        got = session(path).run(None, scope["raw_columns"](df, pre))[0]
        check.max_abs_diff, check.rel_diff = compare([expected], [got])
    except Exception as exc:  # noqa: BLE001
        check.error = one_line(exc)
    ver.checks.append(check)
    return ver


def _sample_rows(pre: dict, scope) -> "pd.DataFrame":
    """Raw-looking rows from the fitted statistics (a missing value, an unknown category)."""
    import pandas as pd
    rng = np.random.default_rng(0)
    n = 7
    data = {}
    for f in pre["features"]:
        if f["type"] == "numeric":
            v = [str(f["center"] + f["scale"] * z) for z in rng.standard_normal(n)]
            v[2] = None
        else:
            cats = list(f["categories"])
            v = [cats[i % len(cats)] for i in range(n)]
            v[3], v[4] = "never-seen-category", None
        data[f["column"]] = v
    return pd.DataFrame(data, dtype=object)
