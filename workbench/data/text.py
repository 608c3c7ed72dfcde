"""Text to token ids: lower-case, split into words, look words up in a vocabulary fitted on
the training texts, pad or cut to one length.

Ids 0 and 1 are reserved: PAD fills short texts (an Embedding can learn to ignore it) and OOV
stands for any word not in the vocabulary (rare words, new words at prediction time). Padding
goes in front by default so that an RNN's last step reads a real word, not padding.
"""
from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

PAD, OOV = 0, 1
PAD_TOKEN, OOV_TOKEN = "<pad>", "<oov>"
TOKEN_PATTERN = r"\w+"  # Python `re`, Unicode-aware: runs of letters, digits and underscores
LENGTH_PERCENTILE = 95   # max_len = 0 picks this percentile of the training texts' lengths

_TOKEN = re.compile(TOKEN_PATTERN)


def tokenize(text, lowercase: bool = True) -> list[str]:
    if not isinstance(text, str):
        return []  # missing text: no tokens (all padding)
    return _TOKEN.findall(text.lower() if lowercase else text)


def build_vocab(token_lists, min_freq: int = 1, max_vocab: int = 20000) -> list[str]:
    """The id -> word table: PAD, OOV, then words by falling count (ties alphabetical).

    max_vocab bounds the whole table, PAD and OOV included, so it is also the Embedding size.
    """
    counts = Counter(t for tokens in token_lists for t in tokens)
    words = sorted((w for w, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w))
    return [PAD_TOKEN, OOV_TOKEN] + words[: max(0, max_vocab - 2)]


def auto_length(token_lists) -> int:
    lengths = np.array([len(t) for t in token_lists] or [1])
    return max(1, int(math.ceil(np.percentile(lengths, LENGTH_PERCENTILE))))


def encode(token_lists, vocab: list[str], max_len: int, pad: str = "pre",
           truncate: str = "post") -> np.ndarray:
    """(N, max_len) int64 ids. truncate='post' keeps a long text's first words."""
    index = {w: i for i, w in enumerate(vocab)}
    out = np.full((len(token_lists), max_len), PAD, dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        ids = [index.get(t, OOV) for t in tokens]
        if len(ids) > max_len:
            ids = ids[:max_len] if truncate == "post" else ids[len(ids) - max_len:]
        if ids:
            if pad == "pre":
                out[row, max_len - len(ids):] = ids
            else:
                out[row, : len(ids)] = ids
    return out
