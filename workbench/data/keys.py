"""Turning raw cell values into the text keys that name classes and categories.

The same class may arrive as 3 (an int column), 3.0 (read as float32) or "3" (read as text by
a deployed predict.py): all must give the class "3". So numbers, and text that reads as a
number, are written in one canonical form; other text is kept exactly as it is. This rule is
part of the preprocessing format (docs/preprocessing-format.md).
"""
from __future__ import annotations

import numpy as np


def number_key(x: float) -> str:
    """3.0 -> '3'; 0.1 (even after a float32 round trip) -> '0.1'; 1e-9 -> '1e-09'."""
    x = float(x)
    if x.is_integer() and abs(x) < 2**53:
        return str(int(x))
    return format(x, ".7g")


def keys(values) -> np.ndarray:
    """A pandas Series -> object array of keys (str), None where the value is missing.

    Each distinct value is keyed once (pd.factorize), so a million rows of ten classes cost
    ten conversions, not a million.
    """
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(values), use_na_sentinel=True)
    table = np.array([value_key(u) for u in uniques] + [None], dtype=object)
    return table[codes]  # code -1 (missing) picks the trailing None


def value_key(v) -> str:
    """One value's key: numbers (and text that reads as a number) canonical, text as is."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        return number_key(v)
    text = str(v)
    try:
        x = float(text.strip())
    except ValueError:
        return text
    return number_key(x) if x == x else text


def sort_keys(names) -> list[str]:
    """Numbers in numeric order (2 before 10), then text in code-point order."""
    def order(k: str):
        try:
            return (0, float(k), "")
        except ValueError:
            return (1, 0.0, k)
    return sorted(names, key=order)
