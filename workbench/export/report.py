"""What an export wrote and how it was checked: one `ExportReport` per export, whatever the format."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

TOLERANCE = 1e-4  # largest relative difference (max |a - b| / max |reference|) that passes


class ExportError(Exception):
    """An export that could not be produced at all; one line."""


@dataclass
class Check:
    """One comparison of the exported artefact with the PyTorch model on the same fresh inputs."""
    sizes: dict[str, int]          # e.g. {"batch": 5, "x.seq": 7}
    max_abs_diff: float = float("nan")
    rel_diff: float = float("nan")
    error: str | None = None       # the runtime could not run it at these sizes

    @property
    def passed(self) -> bool:
        return self.error is None and self.rel_diff <= TOLERANCE

    def describe(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        if self.error:
            return f"{where}: FAILED ({self.error})"
        mark = "ok" if self.passed else "FAILED"
        return f"{where}: max abs diff {self.max_abs_diff:.2e}, relative {self.rel_diff:.2e} {mark}"


@dataclass
class Verification:
    method: str                                   # e.g. "onnxruntime vs PyTorch"
    checks: list[Check] = field(default_factory=list)
    exported_sizes: dict[str, int] = field(default_factory=dict)
    dynamic_axes: dict[str, list[str]] = field(default_factory=dict)   # input -> kept dynamic axes
    fixed_axes: dict[str, list[str]] = field(default_factory=dict)     # input -> axes found fixed
    problems: list[str] = field(default_factory=list)                  # e.g. checker errors

    @property
    def passed(self) -> bool:
        return bool(self.checks) and not self.problems and all(c.passed for c in self.checks)

    @property
    def max_abs_diff(self) -> float:
        vals = [c.max_abs_diff for c in self.checks if c.error is None]
        return max(vals) if vals else float("nan")

    @property
    def rel_diff(self) -> float:
        vals = [c.rel_diff for c in self.checks if c.error is None]
        return max(vals) if vals else float("nan")

    def lines(self) -> list[str]:
        out = [f"verified with {self.method}: {'passed' if self.passed else 'FAILED'}"]
        if self.exported_sizes:
            out.append("  exported at " + ", ".join(f"{k}={v}" for k, v in self.exported_sizes.items()))
        if self.dynamic_axes:
            out.append("  dynamic axes: " + "; ".join(f"{k}: {', '.join(v) or 'none'}"
                                                       for k, v in self.dynamic_axes.items()))
        for name, axes in self.fixed_axes.items():
            if axes:
                out.append(f"  FIXED by the exporter: {name}: {', '.join(axes)}")
        out += [f"  problem: {p}" for p in self.problems]
        out += ["  " + c.describe() for c in self.checks]
        return out


@dataclass
class Compression:
    kind: str                    # "int8" | "prune"
    amount: float | None         # pruning fraction
    original_bytes: int
    compressed_bytes: int
    metric: str | None = None    # e.g. "test_accuracy"
    original_metric: float | None = None
    compressed_metric: float | None = None
    sparsity: float | None = None

    @property
    def metric_change(self) -> float | None:
        if self.original_metric is None or self.compressed_metric is None:
            return None
        return self.compressed_metric - self.original_metric

    def lines(self) -> list[str]:
        what = "int8 dynamic quantisation" if self.kind == "int8" else f"magnitude pruning {self.amount:.0%}"
        out = [f"{what}: {_size(self.original_bytes)} -> {_size(self.compressed_bytes)}"
               + (f" ({self.compressed_bytes / max(self.original_bytes, 1):.0%})")]
        if self.sparsity is not None:
            out.append(f"  weights set to zero: {self.sparsity:.1%}")
        if self.metric and self.metric_change is not None:
            out.append(f"  {self.metric}: {self.original_metric:.4f} -> {self.compressed_metric:.4f} "
                       f"({self.metric_change:+.4f})")
        return out


@dataclass
class ExportReport:
    format: str
    paths: list[Path] = field(default_factory=list)
    verification: Verification | None = None
    extra_verifications: dict[str, Verification] = field(default_factory=dict)  # e.g. "preprocessing"
    warnings: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)   # file name -> bytes
    compression: list[Compression] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)        # e.g. the cluster bundle's launch lines

    @property
    def passed(self) -> bool:
        checks = [v for v in [self.verification, *self.extra_verifications.values()] if v is not None]
        return bool(checks) and all(v.passed for v in checks)

    @property
    def path(self) -> Path | None:
        return self.paths[0] if self.paths else None

    def add_path(self, path: Path) -> None:
        path = Path(path)
        self.paths.append(path)
        if path.is_file():
            self.sizes[path.name] = path.stat().st_size

    def merge(self, other: "ExportReport", label: str | None = None) -> None:
        """Take another report's paths, warnings and checks (a bundle is several exports)."""
        for p in other.paths:
            self.add_path(p)
        self.notes += other.notes
        self.warnings += [w for w in other.warnings if w not in self.warnings]
        self.compression += other.compression
        if other.verification is not None:
            if self.verification is None and label is None:
                self.verification = other.verification
            else:
                self.extra_verifications[label or other.format] = other.verification
        self.extra_verifications.update(other.extra_verifications)

    def summary(self) -> str:
        lines = [f"exported {self.format}:"]
        lines += [f"  wrote {p}" + (f" ({_size(self.sizes[p.name])})" if p.name in self.sizes else "")
                  for p in self.paths]
        if self.verification is not None:
            lines += self.verification.lines()
        for label, v in self.extra_verifications.items():
            lines += [f"[{label}] " + v.lines()[0], *v.lines()[1:]]
        for c in self.compression:
            lines += c.lines()
        lines += [f"warning: {w}" for w in self.warnings]
        lines += self.notes
        lines.append("verification passed" if self.passed else "verification FAILED")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["paths"] = [str(p) for p in self.paths]
        d["passed"] = self.passed
        return d


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
