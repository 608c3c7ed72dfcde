"""One exception for everything that can be wrong with a user's data.

A user who picked a file needs one line that says which file, where in it, and what was
found there — not a traceback. So every DataError is built from those parts and its text is
a single line; the parts stay available as attributes for a UI that wants to highlight a cell.
"""
from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """A problem with the user's data or data settings; `str(e)` is one line for the user."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 column: str | None = None, value: object = None):
        self.path = None if path is None else str(path)
        self.line, self.column, self.value = line, column, value
        self.detail = message
        where = []
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {show(column, 60)}" if len(str(column)) > 60
                         else f"column '{column}'")
        text = ", ".join(where)
        if self.path is not None:
            text = f"{self.path}: {text}" if text else self.path
        text = f"{text}: {message}" if text else message
        super().__init__(one_line(text))


MESSAGE_LIMIT = 300  # a message quoting a 65 KB header line is no message


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Collapse any line breaks so that a message never spans lines, and cut it at `limit`.
    Other unprintable characters (a terminal escape in a column name) show as escapes."""
    text = printable(" ".join(str(text).splitlines()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def printable(text: str) -> str:
    """`text` with each unprintable character (ESC, TAB, U+2028, a lone surrogate) written as
    its Python escape: a name from a file can neither move a terminal's cursor nor break a line."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def show(value: object, limit: int = 40) -> str:
    """A value as it appears in a message: quoted, escaped, shortened."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)


def listing(names, limit: int = 8) -> str:
    """'a, b, c' — or the first few and how many more, so that wide files stay one short line."""
    names = [str(n) for n in names]
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", … ({len(names) - limit} more)"
