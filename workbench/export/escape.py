"""The one way user text (project and node names, column and class names, file names,
vocabulary) reaches a generated file: one function per target language.

A project, a data file or a checkpoint is data from anyone; a generated model.py is imported
and a generated script is run. Every f-string that writes a generated file passes each piece
of user text through the function for that file's language here, so text can only ever be a
value there, never code or markup. Numbers and our own fixed text need no escaping.
"""
from __future__ import annotations

import json
import math
import numbers
import shlex


def _escaped_char(ch: str) -> str:
    """`ch` as a Python string escape (\\n, \\x1b, \\u2028, \\ud800) when it is not printable."""
    return ch if ch.isprintable() else repr(ch)[1:-1]


# -- Python ----------------------------------------------------------------------------------

def python_literal(value) -> str:
    """A Python expression that evaluates to `value` (str, number, bool, None, and lists, tuples
    and dicts of them); anything else raises TypeError. `ast.literal_eval` reads it back."""
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, numbers.Integral):
        return repr(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        return repr(v) if math.isfinite(v) else f'float("{v}")'
    if isinstance(value, (list, tuple)):
        inner = ", ".join(python_literal(v) for v in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"not a plain value for generated code: {type(value).__name__}")


def python_text(text) -> str:
    """`text` for the inside of a "..." or \"\"\"...\"\"\" string (a docstring): backslashes and
    double quotes escaped, line breaks and other unprintable characters as escapes, so the
    string can neither end early nor span lines."""
    out = []
    for ch in str(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        else:
            out.append(_escaped_char(ch))
    return "".join(out)


def python_comment(text) -> str:
    """`text` for after a `#`: one line (line breaks and unprintable characters as escapes)."""
    return "".join(_escaped_char(ch) for ch in str(text))


# -- shell and Dockerfile --------------------------------------------------------------------

def shell(text) -> str:
    """One shell word (POSIX sh / bash): `$(...)`, backticks, `;`, spaces are only characters."""
    text = str(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{text.encode('utf-8', 'backslashreplace').decode()!r} cannot be "
                         "written into a UTF-8 script") from None
    return shlex.quote(text)


def dockerfile_args(words) -> str:
    """The JSON-array (exec) form of RUN/CMD/ENTRYPOINT arguments: no shell sees them, and
    JSON escapes keep each one on the instruction's line. (For a Dockerfile a bundle may add.)"""
    return json.dumps([str(w) for w in words], ensure_ascii=True)


# -- Markdown --------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|~>")


def markdown(text) -> str:
    """`text` for running Markdown text: shown as itself, never as emphasis, a link, an image,
    a heading or HTML (`<`, `>` and `&` become entities); one line."""
    out = []
    for ch in str(text):
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch in _MARKDOWN_SPECIAL:
            out.append("\\" + ch)
        elif ch in "\r\n\t":
            out.append(" ")
        else:
            out.append(_escaped_char(ch))
    return "".join(out)


def markdown_code(text) -> str:
    """`text` as inline code: fenced by more backticks than it holds in a row; one line."""
    text = python_comment(" ".join(str(text).splitlines()))
    fence = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_code_block(text: str) -> str:
    """`text` (a command, possibly several lines) as a fenced code block that it cannot end."""
    text = "\n".join(python_comment(line) for line in str(text).split("\n"))
    fence = "`" * max(3, _longest_run(text, "`") + 1)
    return f"{fence}\n{text}\n{fence}"


def _longest_run(text: str, ch: str) -> int:
    best = run = 0
    for c in text:
        run = run + 1 if c == ch else 0
        best = max(best, run)
    return best


# -- JSON and ONNX metadata -------------------------------------------------------------------

def json_text(value, **kwargs) -> str:
    """JSON for `value`, ASCII only (every other character as \\u escapes), valid anywhere a
    JSON document or a Python expression of one is read."""
    return json.dumps(value, ensure_ascii=True, **kwargs)


def plain_text(text) -> str:
    """`text` as a metadata string: valid UTF-8 (lone surrogates as \\ud800 escapes), no
    control characters, one line."""
    return python_comment(text)
