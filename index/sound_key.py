"""A Spanish sound key for person names: spellings that sound alike share one key.

Records written by hand, by clerks, by foreign journalists spell one name many ways:
González/Gonzales/Gonsález, Ximénez/Jiménez/Giménez, Yáñez/Llanes, Valenzuela/Balenzuela.
Double Metaphone is English-minded: it misses b/v, the silent h, x/j and ll/y, and merges
Reyes/Ríos and Olivares/Álvarez. The rules below follow Spanish spelling instead and keep
every vowel, so names that differ in sound (Soto/Sota, Rojas/Rosas, Gallardo/Gajardo) keep
different keys. Index the keys in their own field with `sound_analyzer()`.

The rules, applied to the lowercased, accent-folded name (ñ → n, ü → u):
  h is silent, except in ch              ph → f
  b, v → b                               n before b, v → m
  z, s, c before e/i → s                 c otherwise, k, q(u) before e/i → k
  j, x, g before e/i → j                 gu before e/i → g (the u is silent)
  ll → y; y before a vowel → y, otherwise → i (Ybáñez/Ibáñez, Sylva/Silva)
  ch → x (x itself is always spelled j here)
  a letter repeated (rr, ss, nn, aa) counts once
Letters outside a-z (digits, other scripts) pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh.analysis import Analyzer, Filter, LowercaseFilter

from index.analyzers import fold, word_tokenizer

__all__ = ["SoundKeyFilter", "sound_analyzer", "sound_key"]

_VOWELS = frozenset("aeiou")
_FRONT = frozenset("ei")
_SAME = {"v": "b", "z": "s", "x": "j", "k": "k", "w": "w"}


def sound_key(name_token: str) -> str:
    """The sound key of one word of a name: `sound_key("Ximénez") == sound_key("Jiménez")`.

    Returns "" only for an empty or accents-only input.
    """
    s = fold(name_token).replace("ph", "f")
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        nxt = s[i + 1] if i + 1 < n else ""
        after = s[i + 2] if i + 2 < n else ""
        step = 1
        if c == "h":
            i += 1
            continue
        if c == "c":
            if nxt == "h":
                c, step = "x", 2
            else:
                c = "s" if nxt in _FRONT else "k"
        elif c == "q":
            c = "k"
            if nxt == "u" and after in _FRONT:
                step = 2
        elif c == "g":
            if nxt in _FRONT:
                c = "j"
            elif nxt == "u" and after in _FRONT:
                step = 2
        elif c == "l" and nxt == "l":
            c, step = "y", 2
        elif c == "y":
            c = "y" if nxt in _VOWELS else "i"
        elif c == "n" and nxt in ("b", "v"):
            c = "m"
        else:
            c = _SAME.get(c, c)
        if not out or out[-1] != c:
            out.append(c)
        i += step
    return "".join(out)


class SoundKeyFilter(Filter):  # type: ignore[misc]
    """Replaces each token's text with its `sound_key`; drops tokens whose key is empty."""

    is_morph = True

    def __call__(self, tokens: Iterator[Any]) -> Iterator[Any]:
        for t in tokens:
            key = sound_key(t.text)
            if key:
                t.text = key
                yield t


def sound_analyzer() -> Analyzer:
    """Person names as sound keys, one per word: "María Ximénez" → ["maria", "jimenes"]."""
    return word_tokenizer() | LowercaseFilter() | SoundKeyFilter()
