"""Smaller models: onnxruntime's dynamic int8 quantisation of an ONNX file, and magnitude
pruning of the PyTorch weights (torch.nn.utils.prune), each reported with its size and the
change of the test metric beside the original."""
from __future__ import annotations

import copy
import io
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from workbench.core.atomic import atomic_path
from workbench.export._quiet import quiet
from workbench.export.report import Compression


def quantize_onnx(src: str | Path, dst: str | Path) -> Path:
    """Dynamic int8 quantisation (weights int8, activations quantised at run time), written
    through the atomic writer; the shape-inferred intermediate lives in a private temp folder."""
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process
    src, dst = Path(src), Path(dst)
    with tempfile.TemporaryDirectory(prefix="workbench-quantize-") as scratch, atomic_path(dst) as tmp:
        pre = Path(scratch) / "pre.onnx"
        with quiet():
            try:
                quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
                source = pre
            except Exception:  # noqa: BLE001 - pre-processing only helps; quantise the original then
                source = src
            quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8)
    return dst


def quantize_and_score(run, fp32: Path, q: Path, data) -> Compression:
    """Quantise `fp32` to `q` (int8 dynamic) and score both on the test split (`data`, or fresh
    random inputs when it is None)."""
    from workbench.export.onnx_export import ort_runner
    quantize_onnx(fp32, q)
    c = Compression("int8", None, fp32.stat().st_size, q.stat().st_size)
    names = run.model.input_names
    f_run, q_run = ort_runner(fp32, names), ort_runner(q, names)
    score_into(c, run, lambda x: f_run((x,))[0], lambda x: q_run((x,))[0], data)
    return c


def prune_run(run, amount: float, data):
    """The run with its model pruned, and the Compression that says what it cost."""
    import dataclasses
    model = run.model
    pruned, sparsity = prune_module(model.module, float(amount))
    c = Compression("prune", float(amount), deflated_size(model.module.state_dict()),
                    deflated_size(pruned.state_dict()), sparsity=sparsity)
    score_into(c, run, lambda x: _outputs(model.module, x), lambda x: _outputs(pruned, x), data)
    return dataclasses.replace(run, model=dataclasses.replace(model, module=pruned)), c


def score_into(c: Compression, run, original, compressed, data) -> None:
    """Fill the metric of `c`: on the test split, or agreement on fresh inputs without one."""
    if data is not None:
        x, y = data
        c.metric, c.original_metric = score(original(x), y.numpy(), run.task)
        _, c.compressed_metric = score(compressed(x), y.numpy(), run.task)
    else:
        from workbench.export import verify as V
        x = V.make_inputs(run.model, V.plan_axes(run.model), {"batch": 256}, seed=123)[0]
        c.metric, c.original_metric = "agreement_with_original", 1.0
        c.compressed_metric = agreement(original(x), compressed(x))


def _outputs(module: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        out = module(x)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.detach().numpy()


def prune_module(module: nn.Module, amount: float) -> tuple[nn.Module, float]:
    """A copy with the smallest-magnitude `amount` of the weights of every Linear, Conv,
    Embedding and recurrent layer set to zero (global over the model, pruning made permanent).
    Returns (pruned copy in eval mode, fraction of all those weights that are zero)."""
    if not 0 < amount < 1:
        raise ValueError(f"prune amount must be between 0 and 1, not {amount}")
    import torch.nn.utils.prune as prune
    pruned = copy.deepcopy(module).eval()
    targets = []
    for m in pruned.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding)):
            targets.append((m, "weight"))
        elif isinstance(m, nn.RNNBase):
            targets += [(m, name) for name, _ in m.named_parameters() if name.startswith("weight")]
    if not targets:
        return pruned, 0.0
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)
    for m, name in targets:
        prune.remove(m, name)
    for m in pruned.modules():
        if isinstance(m, nn.RNNBase):
            m.flatten_parameters() if hasattr(m, "flatten_parameters") else None
    zeros = sum(int((getattr(m, n) == 0).sum()) for m, n in targets)
    total = sum(getattr(m, n).numel() for m, n in targets)
    return pruned, zeros / max(total, 1)


def deflated_size(state_dict: dict) -> int:
    """Bytes of the weights once zipped: what pruning saves on disk and in transfer (dense
    files keep their size; zeros compress)."""
    raw = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, raw)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("weights.pt", raw.getvalue())
    return len(out.getvalue())


def score(outputs: np.ndarray, y: np.ndarray, task: str) -> tuple[str, float]:
    """('test_accuracy', acc) for classification (argmax vs class ids), ('test_rmse', rmse)
    for regression."""
    outputs = np.asarray(outputs)
    y = np.asarray(y)
    if task == "classification":
        pred = outputs.argmax(axis=-1) if outputs.ndim > 1 else (outputs > 0).astype(np.int64)
        return "test_accuracy", float((pred.reshape(-1) == y.reshape(-1)).mean())
    diff = outputs.reshape(len(y), -1).astype(np.float64) - y.reshape(len(y), -1).astype(np.float64)
    return "test_rmse", float(np.sqrt((diff ** 2).mean()))


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of rows where two class-score arrays pick the same class."""
    return float((np.asarray(a).argmax(-1) == np.asarray(b).argmax(-1)).mean())
