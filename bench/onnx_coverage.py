"""Which catalog nodes the ONNX exporter handles: each model node alone, exported and verified.

    .venv/bin/python bench/onnx_coverage.py

It times each node alone; whether every node exports at all is asserted by
tests/export/test_every_spec.py (Python and ONNX, outputs compared). Results are recorded in
docs/export.md.
"""
from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.core.test_catalog import _graph_for  # noqa: E402  (the same minimal graphs the tests use)
from workbench.core import catalog, compile_model  # noqa: E402
from workbench.core.plugins import load_plugins  # noqa: E402
from workbench.core.spec import MODEL  # noqa: E402
from workbench.export.onnx_export import export_onnx  # noqa: E402


def main() -> int:
    warnings.filterwarnings("ignore")
    load_plugins()
    failed = 0
    for spec in [s for s in catalog.all_specs() if s.role == MODEL]:
        graph, _, analysis = _graph_for(spec)
        model = compile_model(graph, analysis=analysis)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            try:
                report = export_onnx(model, Path(folder) / "m.onnx")
                verdict = "verified" if report.passed else "FAILED verification"
            except Exception as exc:  # noqa: BLE001 - report every failure, keep going
                verdict = f"FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        failed += not verdict.startswith("verified")
        print(f"{spec.type:<24} {verdict} ({time.perf_counter() - start:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
