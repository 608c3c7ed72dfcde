"""Reading a user's CSV / TSV / TXT file into a DataFrame, fast, and failing with one clear line.

How: look at a small sample (the first 64 KiB) to decide the dialect — encoding, delimiter,
quoting, header, decimal mark, and which columns are numbers — then hand the whole file to
pandas' C engine with everything spelled out (no `sep=None`, which sniffs with the python
engine and is ~29x slower). Numeric columns are parsed straight to float32: half the memory of
float64, and on the 1M x 20 benchmark it is also the fastest plain `read_csv` call (pandas 3
parses big files on several threads when it may).

Why our own sniffing: `csv.Sniffer` alone picked ' ' as the delimiter of the Debian
`train.txt` and said it had a header; restricted to , ; TAB | it is good, but it can also fail
outright on quoted fields. So Sniffer proposes, and a field-count check over the sample decides.

Errors cost nothing until they happen: the fast read does not look for them line by line.
Only when pandas complains, or a symptom shows (missing values in the last column can be a
short row), the file is scanned with the `csv` module to name the exact line.
"""
from __future__ import annotations

import codecs
import csv
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

from workbench.data.errors import DataError, listing, show

SAMPLE_BYTES = 64 * 1024
SAMPLE_ROWS = 1000
MIN_SAMPLE_LINES = 21            # the sample grows until it holds this many whole lines ...
WIDE_SAMPLE_BYTES = 1024 * 1024  # ... or a few lines once it is this big (wide files) ...
MAX_SAMPLE_BYTES = 16 * 1024 * 1024  # ... or this many bytes: a first line longer is refused
FIELD_LIMIT = 16 * 1024 * 1024   # the csv module's field size limit while we read (default 128 KiB)
CANDIDATES = ",;\t|"
WHITESPACE = " "  # ReadInfo.delimiter for "one or more spaces/tabs"
TEXT_COLUMNS = ["text", "label"]  # names given to the headerless text<TAB>label form

# What counts as a missing value: pandas' default list, plus "?" (common in UCI data sets).
# Spelled out because an exported model's predict.py must treat the same tokens as missing.
NA_TOKENS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
             "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", "?")
_NA = frozenset(NA_TOKENS)

_MAGIC = {b"PK\x03\x04": "a ZIP or Excel (.xlsx) file", b"\x1f\x8b": "a gzip file",
          b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Office file", b"%PDF": "a PDF file",
          b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image",
          b"PAR1": "a Parquet file", b"\x93NUMPY": "a NumPy file"}


@dataclass
class ReadInfo:
    """How a file was read: enough to read it again the same way, and to explain it."""
    path: str                   # as shown in messages
    delimiter: str              # ',', ';', '\t', '|', or ' ' for runs of whitespace
    encoding: str               # 'utf-8', 'utf-8-sig' (with BOM), 'utf-16', 'latin-1'
    has_header: bool
    rows: int = 0               # data rows (for a preview: the rows previewed)
    warnings: list[str] = field(default_factory=list)
    quoting: bool = True        # False: quotes are plain characters (text<TAB>label files)
    decimal: str = "."
    text_format: bool = False   # the headerless text<TAB>label form
    columns: list[str] = field(default_factory=list)
    numeric_hint: list[str] = field(default_factory=list)  # columns all-numeric in the sample
    source: str = "table"       # "folder": a folder of class sub-folders of images

    @property
    def delimiter_name(self) -> str:
        return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe",
                WHITESPACE: "whitespace"}.get(self.delimiter, repr(self.delimiter))


@dataclass
class Sample:
    """The first bytes of a file, decoded, with the dialect found in them."""
    info: ReadInfo
    text: str                   # whole lines only
    rows: list[list[str]]       # parsed records of the sample, header included
    complete: bool              # the sample is the whole file
    size: int                   # file size in bytes
    sample_bytes: int           # bytes of the file the whole lines in `text` cover


# -- public -------------------------------------------------------------------------------

def read_table(path, **overrides):
    """Read a whole file -> (DataFrame, ReadInfo); raises DataError with one line on bad input.

    overrides: delimiter, encoding, header (bool), names (list), types ({column: numeric|
    categorical|text}, to read a column as numbers or as strings whatever the sample says),
    display (the name used in messages; default: the path as given).
    """
    import pandas as pd

    display = str(overrides.pop("display", path))
    types = overrides.pop("types", None) or {}
    sample = sniff(path, display, **overrides)
    info = sample.info
    dtypes = _dtypes(sample, types)
    while True:
        try:
            df = _read(path, info, dtypes)
            break
        except UnicodeDecodeError:  # the sample was UTF-8, a later line is not
            if info.encoding == "latin-1":
                raise DataError("cannot be decoded as text", path=display) from None
            info.encoding = "latin-1"
            info.warnings.append(f"{display}: not valid UTF-8, read as Latin-1")
        except pd.errors.ParserError as exc:  # most often a row with too many fields
            raise _parser_error(path, info, exc) from None
        except ValueError as exc:  # a value that is not a number in a column read as numbers
            _raise_not_a_number(path, info, dtypes)
            raise DataError(_first_line(exc), path=display) from None
    if len(df) == 0:
        if info.has_header:
            raise DataError(f"the file has a header ({listing(df.columns)}) but no data rows",
                            path=display)
        raise DataError("the file is empty", path=display)
    _check_short_rows(path, info, df)
    info.rows = len(df)
    info.columns = [str(c) for c in df.columns]
    df.columns = info.columns
    return df, info


def sniff(path, display: str | None = None, sample_bytes: int = SAMPLE_BYTES, **overrides) -> Sample:
    """Decide encoding, delimiter, quoting, header and decimal mark from the file's start."""
    display = str(path) if display is None else display
    csv.field_size_limit(FIELD_LIMIT)
    while True:  # wide files: grow the sample until it holds whole lines (the header at least)
        raw, size = _head(path, display, sample_bytes)
        complete = len(raw) >= size
        lines = raw.count(b"\n")
        if complete or lines >= MIN_SAMPLE_LINES or sample_bytes >= MAX_SAMPLE_BYTES \
                or (lines >= 3 and sample_bytes >= WIDE_SAMPLE_BYTES):
            break
        sample_bytes = min(sample_bytes * 4, MAX_SAMPLE_BYTES)
    encoding = overrides.get("encoding") or _encoding_of(raw)
    warnings: list[str] = []
    text, encoding = _decode(raw, encoding, complete)
    if encoding == "latin-1" and not overrides.get("encoding"):
        warnings.append(f"{display}: not valid UTF-8, read as Latin-1")
    covered = len(raw)
    if not complete:  # keep whole lines only
        cut = max(text.rfind("\n"), text.rfind("\r"))
        if cut <= 0:
            raise DataError(f"the first line is longer than {MAX_SAMPLE_BYTES // 2**20} MiB: not "
                            "a table Workbench can read", path=display, line=1)
        covered = len(text[: cut + 1].encode(encoding, errors="replace"))
        text = text[: cut + 1]
    # lines end at \n, \r\n or \r only, as for csv and pandas (str.splitlines also splits at
    # U+2028, U+0085, \x1c ..., which are characters of a field there)
    numbered = [(i, ln) for i, ln in enumerate(_LINE_END.split(text), 1) if ln.strip()]
    numbered = numbered[: SAMPLE_ROWS + 1]
    lines = [ln for _, ln in numbered]
    if not lines:
        raise DataError("the file is empty", path=display)
    lines = _join_quoted_header(lines)
    try:
        delimiter = overrides.get("delimiter") or _delimiter(lines)
        quoting = _quoting(lines, delimiter)
        rows = [_split(ln, delimiter, quoting) for ln in lines]
    except csv.Error:
        number = next((i for i, ln in numbered if len(ln) > FIELD_LIMIT), None)
        raise DataError(f"a field is longer than {FIELD_LIMIT:,} characters (a quote never "
                        "closed?)", path=display, line=number) from None
    decimal = _decimal(rows, delimiter)
    header = overrides.get("header")
    has_header = _has_header(rows, decimal) if header is None else bool(header)
    width = Counter(len(r) for r in rows).most_common(1)[0][0]
    names = overrides.get("names")
    text_format = False
    if names is None:
        if has_header:
            names = header_names(rows[0])
            warnings += _duplicate_warnings(display, rows[0], names)
        elif width == 2 and delimiter == "\t":
            names, text_format = _text_form_names(rows), True
        else:
            names = [f"column_{i + 1}" for i in range(width)]
    body = rows[1:] if has_header else rows
    numeric = [str(name) for j, name in enumerate(names) if _numeric_column(body, j, decimal)]
    info = ReadInfo(display, delimiter, encoding, has_header, 0, warnings, quoting, decimal,
                    text_format, list(names), numeric)
    return Sample(info, text, rows, complete, size, covered)


def _text_form_names(rows: list[list[str]]) -> list[str]:
    """text<TAB>label, or label<TAB>text when the first field is the shorter one: the column
    with more words per row is the text."""
    def words(j: int) -> float:
        counts = [len(r[j].split()) for r in rows if len(r) > j]
        return sum(counts) / max(len(counts), 1)

    return list(TEXT_COLUMNS) if words(0) >= words(1) else list(reversed(TEXT_COLUMNS))


def records(path, info: ReadInfo) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of every non-blank record, header included, as pandas sees it.

    Slow (Python per row); used only to explain an error found by the fast read.
    """
    with open(path, encoding=info.encoding, errors="replace", newline="") as f:
        if info.delimiter == WHITESPACE:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if fields:
                    yield number, fields
            return
        reader = csv.reader(f, delimiter=info.delimiter, strict=False,
                            quoting=csv.QUOTE_MINIMAL if info.quoting else csv.QUOTE_NONE)
        csv.field_size_limit(FIELD_LIMIT)
        previous = 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise DataError(f"a field is longer than {FIELD_LIMIT:,} characters (a quote "
                                "never closed?)", path=info.path, line=previous + 1) from None
            start, previous = previous + 1, reader.line_num
            if fields and fields != [""]:
                yield start, fields


def line_of_row(path, info: ReadInfo, row: int) -> int | None:
    """The line number where data row `row` (0-based, as in the DataFrame) starts."""
    return record_of_row(path, info, row)[0]


def record_of_row(path, info: ReadInfo, row: int) -> tuple[int | None, list[str]]:
    """(line number, fields as written) of data row `row` (0-based, as in the DataFrame)."""
    for i, (number, fields) in enumerate(_data_records(path, info)):
        if i == row:
            return number, fields
    return None, []


# -- reading ------------------------------------------------------------------------------

def _read(path, info: ReadInfo, dtypes, **extra):
    import pandas as pd

    kwargs = dict(**extra,
        header=0 if info.has_header else None, names=info.columns,
        encoding=info.encoding, decimal=info.decimal, dtype=dtypes, index_col=False,
        keep_default_na=False, na_values=[""] if info.text_format else list(NA_TOKENS),
        quoting=csv.QUOTE_MINIMAL if info.quoting else csv.QUOTE_NONE,
        engine="c",
    )
    if not isinstance(path, (str, os.PathLike)):
        kwargs.pop("encoding")  # an in-memory text sample is already decoded
    if info.delimiter == WHITESPACE:
        kwargs["sep"] = r"\s+"
    else:
        kwargs["sep"] = info.delimiter
    return pd.read_csv(path, **kwargs)


def _dtypes(sample: Sample, types: dict):
    """float32 for the columns that are numbers in the sample, str for the others.

    When every column is numeric a single dtype is passed: pandas then builds one float32
    block, which `to_numpy()` hands out without a copy.
    """
    import numpy as np

    info, names = sample.info, sample.info.columns
    numeric = set(info.numeric_hint)
    out = {}
    for j, name in enumerate(names):
        kind = types.get(name)
        if kind == "numeric" or (kind is None and name in numeric):
            out[name] = np.float32
        elif kind in ("categorical", "text") or _has_strings(sample, j):
            out[name] = str
    if len(out) == len(names) and all(v is np.float32 for v in out.values()):
        return np.float32
    return out or None


def _has_strings(sample: Sample, j: int) -> bool:
    body = sample.rows[1:] if sample.info.has_header else sample.rows
    return any(j < len(r) and r[j].strip() not in _NA for r in body)


def _check_short_rows(path, info: ReadInfo, df) -> None:
    """A row with too few fields reads as missing values at its end: find it if there is one."""
    if df.shape[1] < 2 or not df.iloc[:, -1].isna().any():
        return
    width = df.shape[1]
    labelled = info.text_format or (info.delimiter == "\t" and width == 2)
    for number, fields in _data_records(path, info):
        if labelled and (len(fields) < 2 or not fields[1].strip()):
            first, second = info.columns if info.text_format else TEXT_COLUMNS
            raise DataError(f"no {second} (expected {first}<TAB>{second}): {show(fields[0])}",
                            path=info.path, line=number)
        if len(fields) < width:
            raise _ragged(info, number, fields, width)


def _parser_error(path, info: ReadInfo, exc) -> DataError:
    width = len(info.columns)
    last = None
    for number, fields in _data_records(path, info):
        if len(fields) != width:
            return _ragged(info, number, fields, width)
        last = number
    if "EOF inside string" in str(exc) and last is not None:
        # the last record runs from an opening quote to the end of the file
        return DataError('a quoted field opens here and is never closed (the file ends inside '
                         'the quotes)', path=info.path, line=last)
    return DataError(_first_line(exc), path=info.path)


def _ragged(info: ReadInfo, number: int, fields: list[str], width: int) -> DataError:
    like = "the header" if info.has_header else "the first line"
    sep = " " if info.delimiter == WHITESPACE else info.delimiter
    return DataError(f"{len(fields)} fields where {like} has {width}: {show(sep.join(fields))}",
                     path=info.path, line=number)


def _raise_not_a_number(path, info: ReadInfo, dtypes) -> None:
    """A column expected to hold numbers does not: re-read as text and name the first culprit."""
    import numpy as np

    if dtypes is None:
        return
    wanted = info.columns if dtypes is np.float32 else [c for c, t in dtypes.items()
                                                        if t is np.float32]
    try:
        df = _read(path, info, str)
    except (ValueError, UnicodeDecodeError):
        return
    df.columns = info.columns
    bad = first_non_number(df, wanted, info.decimal)
    if bad is not None:
        row, column, value = bad
        raise DataError(f"{show(value)} is not a number", path=info.path,
                        line=line_of_row(path, info, row), column=column, value=value)


def first_non_number(df, columns, decimal: str = ".") -> tuple[int, str, str] | None:
    """(row, column, value) of the earliest value in `columns` that is neither a number nor
    missing, or None."""
    import pandas as pd

    best = None
    for column in columns:
        values = df[column]
        if values.dtype.kind in "fiub":
            continue
        text = values.astype(str).str.strip()
        if decimal == ",":
            text = text.str.replace(",", ".", regex=False)
        parsed = pd.to_numeric(text, errors="coerce")
        bad = parsed.isna().to_numpy() & values.notna().to_numpy() & ~text.isin(_NA).to_numpy()
        if bad.any():
            row = int(bad.argmax())
            if best is None or row < best[0]:
                best = (row, str(column), str(values.iloc[row]))
    return best


def _data_records(path, info: ReadInfo):
    it = records(path, info)
    if info.has_header:
        next(it, None)
    return it


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- sniffing -----------------------------------------------------------------------------

def _head(path, display: str, sample_bytes: int) -> tuple[bytes, int]:
    """The first bytes of a regular file (a FIFO or a device is refused before it is opened:
    reading one would hang or never end) and the file's size."""
    from workbench.core import files  # here: importing workbench.core loads torch

    try:
        with files.open_regular(path, what="file") as f:
            size = os.fstat(f.fileno()).st_size
            raw = f.read(sample_bytes)
    except files.FileRefused as exc:
        raise DataError(exc.why, path=display) from None
    except OSError as exc:
        raise DataError(f"cannot be read ({exc.strerror or exc})", path=display) from None
    if not raw.strip():
        raise DataError("the file is empty", path=display)
    for magic, what in _MAGIC.items():
        if raw.startswith(magic):
            raise DataError(f"not a text file (looks like {what}); save it as CSV", path=display)
    if b"\x00" in raw and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        at = raw.index(b"\x00")
        raise DataError(f"not a text file (binary data at byte {at})", path=display)
    return raw, size


def _encoding_of(raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


def _decode(raw: bytes, encoding: str, complete: bool) -> tuple[str, str]:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        return decoder.decode(raw, final=complete), encoding
    except UnicodeDecodeError:
        if encoding == "latin-1":
            raise
        return raw.decode("latin-1"), "latin-1"


def _split(line: str, delimiter: str, quoting: bool) -> list[str]:
    if delimiter == WHITESPACE:
        return line.split()
    if not quoting:  # what the csv module does with QUOTE_NONE, also for a joined header
        return line.split(delimiter)
    try:
        return next(csv.reader([line], delimiter=delimiter, strict=False), [])
    except csv.Error:
        if "\n" in line:  # a joined header split by a delimiter it was not written with
            return [line]
        raise


def _delimiter(lines: list[str]) -> str:
    """The candidate that splits the most lines into the same number (>1) of fields."""
    proposed = None
    try:
        proposed = csv.Sniffer().sniff("\n".join(lines[:200]), delimiters=CANDIDATES).delimiter
    except csv.Error:
        pass
    best, best_score = None, (0.0, 0)
    for d in CANDIDATES:
        quoting = _quoting(lines, d)
        counts = Counter(len(_split(ln, d, quoting)) for ln in lines)
        width, hits = counts.most_common(1)[0]
        if width < 2:
            continue
        score = (hits / len(lines), 1 if d == proposed else 0)
        if score > best_score:
            best, best_score = d, score
    if best is not None:
        return best
    counts = Counter(len(ln.split()) for ln in lines)
    width, hits = counts.most_common(1)[0]
    if width >= 2 and hits / len(lines) >= 0.9:
        return WHITESPACE
    return ","  # one column


def _quoting(lines: list[str], delimiter: str) -> bool:
    """False when quotes in a tab/space separated file are plain characters of the text.

    In text<TAB>label files a description may hold one `"`: reading it as an opening quote
    would swallow the following lines. Comma/semicolon/pipe files always get CSV quoting.
    A TSV written by a CSV writer quotes a field holding a tab (`"a<TAB>b"`): that is quoting
    when every line then splits, quotes honoured, into the same number of fields (and some
    line splits otherwise without them: a `"` inside a word needs no quoting).
    """
    if delimiter not in ("\t", WHITESPACE):
        return True
    for line in lines:
        for f in (line.split() if delimiter == WHITESPACE else line.split(delimiter)):
            if '"' in f:
                f = f.strip()
                if not (len(f) >= 2 and f[0] == '"' and f[-1] == '"'):
                    return delimiter == "\t" and _quoted_fields_line_up(lines)
    return True


def _quoted_fields_line_up(lines: list[str]) -> bool:
    """Every line is whole tab-separated CSV (each quote opened at a field's start is closed
    on that line, no stray quote after it) and all lines have as many fields, more than one."""
    widths, quoted = set(), False
    for line in lines:
        try:
            fields = next(csv.reader([line], delimiter="\t", strict=True), [])
        except csv.Error:
            return False
        widths.add(len(fields))
        quoted = quoted or fields != line.split("\t")
    return quoted and len(widths) == 1 and widths.pop() > 1


_COMMA_NUMBER = re.compile(r"^[-+]?\d+,\d+$")
_DOT_NUMBER = re.compile(r"^[-+]?\d*\.\d+([eE][-+]?\d+)?$")


def _decimal(rows: list[list[str]], delimiter: str) -> str:
    """',' for European files (1,5;2,25) — only possible when ',' is not the delimiter."""
    if delimiter == ",":
        return "."
    comma = dot = 0
    for row in rows[1:]:
        for f in row:
            f = f.strip()
            comma += bool(_COMMA_NUMBER.match(f))
            dot += bool(_DOT_NUMBER.match(f))
    return "," if comma and not dot else "."


def header_names(cells: list[str]) -> list[str]:
    """Column names from a header record: stripped, a line break inside a quoted name read as
    a space (a wrapped spreadsheet heading), an empty name `column_<n>`, a repeated one `.1`.
    An exported predict.py names columns by this same rule (preprocessing-format.md)."""
    names = [_LINE_BREAKS.sub(" ", c).strip() for c in cells]
    return _unique([n or f"column_{i + 1}" for i, n in enumerate(names)])


_LINE_END = re.compile(r"\r\n|\r|\n")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def _unique(names: list[str]) -> list[str]:
    """Repeated names get .1, .2 … as pandas would name them, skipping names already taken
    (`a, a, a.1` -> `a, a.2, a.1`), so that every column keeps its own name."""
    taken = set(names)
    seen: Counter = Counter()
    out = []
    for name in names:
        if not seen[name]:
            out.append(name)
        else:
            k = seen[name]
            while f"{name}.{k}" in taken:
                k += 1
            out.append(f"{name}.{k}")
            taken.add(out[-1])
            seen[name] = k
        seen[name] += 1
    return out


def _duplicate_warnings(display: str, cells: list[str], names: list[str]) -> list[str]:
    out = []
    for cell, name in zip(cells, names):
        original = _LINE_BREAKS.sub(" ", cell).strip()
        if original and name != original:
            out.append(f"{display}: line 1: the header names column {show(original, 60)} again; "
                       f"this one is read as {show(name, 60)}")
    return out


def _join_quoted_header(lines: list[str]) -> list[str]:
    """A header name with a line break inside its quotes spans several lines: join them into
    one record (csv-parsed later), so the sample's first row is the whole header."""
    first = lines[0]
    if first.count('"') % 2 == 0:
        return lines
    for k in range(1, min(len(lines), 20)):
        first += "\n" + lines[k]
        if first.count('"') % 2 == 0:
            return [first] + lines[k + 1:] if _one_record(first) else lines
    return lines


def _one_record(text: str) -> bool:
    """Is `text` one well-formed CSV record with some candidate delimiter (its line breaks all
    inside quotes)? A stray quote in a line of plain text is not."""
    for d in CANDIDATES:
        try:
            if len(list(csv.reader([text], delimiter=d, strict=True))) == 1:
                return True
        except csv.Error:
            pass
    return False


def _is_number(text: str, decimal: str = ".") -> bool:
    t = text.strip()
    if decimal == ",":
        t = t.replace(",", ".")
    try:
        float(t)
    except ValueError:
        return False
    return t.lower() not in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity")


def _numeric_column(body: list[list[str]], j: int, decimal: str) -> bool:
    seen = False
    for row in body:
        if j >= len(row) or row[j].strip() in _NA:
            continue
        if not _is_number(row[j], decimal):
            return False
        seen = True
    return seen


def _has_header(rows: list[list[str]], decimal: str) -> bool:
    """Is the first record a header? Numbers below a word say yes; repeated values say no."""
    first, body = rows[0], rows[1:]
    if all(_is_number(f, decimal) for f in first if f.strip()):
        return False
    if not body:
        return True  # one line of words: a header with no data (reported by the caller)
    for j, name in enumerate(first):
        if not _is_number(name, decimal) and name.strip() not in _NA \
                and _numeric_column(body, j, decimal):
            return True
    # All columns hold words. A header name is not a value of its column ...
    names = [f.strip() for f in first]
    columns = [[r[j].strip() for r in body if j < len(r)] for j in range(len(names))]
    if any(name in column for name, column in zip(names, columns) if name):
        return False
    # ... so a first cell above a column of repeated values (classes, categories) that is not
    # one of them is a name, whatever its length ("The category label of the product").
    if any(name and _repeats(column) for name, column in zip(names, columns)):
        return True
    # Every column differs in every row (free text, identifiers): little to go on. Names are
    # distinct, and a phrase above phrases is a first row of data, not a header.
    if len(set(names)) != len(names) or any(not n for n in names):
        return False
    for name, column in zip(names, columns):
        words = sum(len(v.split()) for v in column) / max(1, len(column))
        if words >= 3 and len(name.split()) >= 3:
            return False
    return True


def _repeats(column: list[str]) -> bool:
    """A column of a few values, each seen again and again (at least 4 rows, at most half as
    many distinct values as rows)."""
    values = [v for v in column if v not in _NA]
    return len(values) >= 4 and len(set(values)) * 2 <= len(values)

