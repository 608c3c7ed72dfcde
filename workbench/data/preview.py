"""A quick look at a file — its first rows and what each column seems to be — for the data
panel and `workbench data inspect --preview`, without reading a file that may be gigabytes.

Only the first bytes are read (64 KiB, more if that holds fewer rows than asked for); the
total row count is estimated from the bytes per line at a few places spread over the file
(lines often grow longer further down: ids and counters get more digits).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

from workbench.data.read import MAX_SAMPLE_BYTES, SAMPLE_BYTES, ReadInfo, _dtypes, _read, sniff
from workbench.data.keys import value_key
from workbench.data.schema import guess_type


@dataclass
class ColumnSummary:
    name: str
    type: str                 # numeric | categorical | text | constant | empty (in the preview)
    missing: int
    distinct: int
    examples: list[str] = field(default_factory=list)   # up to 3 distinct values
    min: float | None = None
    max: float | None = None
    mean: float | None = None


@dataclass
class Preview:
    info: ReadInfo
    frame: object                     # DataFrame of the first rows
    columns: list[ColumnSummary]
    complete: bool                    # the whole file is in the preview
    estimated_rows: int               # exact when complete


def preview(path, rows: int = 100, display: str | None = None) -> Preview:
    display = str(path) if display is None else display
    size = SAMPLE_BYTES
    while True:
        sample = sniff(path, display, sample_bytes=size)
        body = len(sample.rows) - (1 if sample.info.has_header else 0)
        if sample.complete or body > rows or size >= MAX_SAMPLE_BYTES:
            break
        size *= 4
    info = sample.info
    df = _read(io.StringIO(sample.text), info, _dtypes(sample, {}), nrows=rows)
    df.columns = info.columns[: df.shape[1]]
    info.rows = len(df)
    if sample.complete:
        estimated = body
    else:
        estimated = int(sample.size / _bytes_per_line(path, sample.size)) - int(info.has_header)
    return Preview(info, df, [_summary(df[c]) for c in df.columns], sample.complete,
                   max(estimated, len(df)))


def _summary(s) -> ColumnSummary:
    kind = guess_type(s)
    values = s.dropna()
    examples = [value_key(v) for v in values.unique()[:3]]
    out = ColumnSummary(str(s.name), kind, int(s.isna().sum()), int(values.nunique()), examples)
    if s.dtype.kind in "fiu" and len(values):
        out.min, out.max, out.mean = float(values.min()), float(values.max()), float(values.mean())
    return out


def _bytes_per_line(path, size: int, probes: int = 8, chunk: int = 16 * 1024) -> float:
    """Mean line length from `probes` chunks spread over the file."""
    total = lines = 0
    with open(path, "rb") as f:
        for i in range(probes):
            f.seek(max(0, (size - chunk) * i // max(1, probes - 1)))
            data = f.read(chunk)
            total += len(data)
            lines += data.count(b"\n")
    return total / max(1, lines)
