"""Benchmark: importing a 100-layer PyTorch model (issue 17), traced and checked.

    .venv/bin/python bench/import.py [--repeat 3] [--layers 100]

Builds two models in this script, each with --layers layers (Linear/Conv2d, BatchNorm and
activation modules each count as one):
  mlp   Linear → ReLU, repeated
  cnn   Conv2d → BatchNorm2d → ReLU blocks with a residual Add every block, on 16×16 images
and times, best of --repeat:
  import   import_nn: fx trace, mapping onto catalog nodes, layout, and the verification
  verify   the verification alone (compile the graph, apply the weights, run both models on
           batches of 2 and 3, compare)
  pt2      import_pt2 of the same model saved with torch.export.save (load, map, verify)
  onnx     import_onnx of the same model exported to ONNX (load, check, shape inference,
           constant folding, map, verify against onnxruntime)
and prints the node count and the largest relative difference.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def mlp(layers: int):
    from torch import nn
    mods = []
    for _ in range(layers // 2):
        mods += [nn.Linear(64, 64), nn.ReLU()]
    return nn.Sequential(*mods), (64,)


def cnn(layers: int):
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(16, 16, 3, padding=1)
            self.bn = nn.BatchNorm2d(16)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.bn(self.conv(x))) + x

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(*[Block() for _ in range(layers // 3)])
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(16, 10)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(self.blocks(x)), 1))

    return Net(), (16, 16, 16)


def best(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--layers", type=int, default=100)
    args = parser.parse_args()

    import torch

    from workbench.importers.torch_import import _inputs, import_nn, import_pt2, verify
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, best of {args.repeat}")
    from workbench.importers.onnx_import import import_onnx
    print(f"{'model':6} {'nodes':>5} {'import':>9} {'verify':>9} {'pt2':>9} {'onnx':>9} {'max diff':>9}")
    for name, build in (("mlp", mlp), ("cnn", cnn)):
        model, shape = build(args.layers)
        model.eval()
        t_import, result = best(lambda: import_nn(model, shape, name=name), args.repeat)

        def again():
            result.report.clear()
            return verify(result, model, lambda b, s: (_inputs(shape, "float32", 2, b, s),))
        t_verify, _ = best(again, args.repeat)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.pt2"
            program = torch.export.export(model, (torch.randn(2, *shape),),
                                          dynamic_shapes=({0: torch.export.Dim("batch")},))
            torch.export.save(program, path)
            t_pt2, from_pt2 = best(lambda: import_pt2(path), args.repeat)
            onnx_path = Path(tmp) / f"{name}.onnx"
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                torch.onnx.export(model, (torch.randn(2, *shape),), dynamo=True, optimize=False,
                                  dynamic_shapes=({0: torch.export.Dim("batch")},)
                                  ).save(str(onnx_path), external_data=False)
            t_onnx, from_onnx = best(lambda: import_onnx(onnx_path), args.repeat)
        worst = max(result.max_diff, from_pt2.max_diff, from_onnx.max_diff)
        print(f"{name:6} {len(result.project.graph.nodes):5d} {t_import:8.2f}s {t_verify:8.2f}s "
              f"{t_pt2:8.2f}s {t_onnx:8.2f}s {worst:9.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
