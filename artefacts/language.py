"""Which language a text is in, from its commonest words: ``es``, ``en`` or unknown.

Used where no one declared the language, so that Spanish and English text is still stemmed
for search. A guess, never a claim: it is recorded as ``language_guess``, apart from the
metadata.
"""

from __future__ import annotations

import re

__all__ = ["guess_language"]

_WORD = re.compile(r"[^\W\d_]+")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_SPANISH = _word_set(
    "de la que el en los del se las por un para con una su al lo como más pero sus le ya fue"
    " este ha porque esta son entre cuando muy sin sobre también hasta hay donde desde nos"
    " durante todos uno les ni contra otros ese eso había ante ellos esto mí antes algunos qué"
    " unos yo otro otras otra él tanto esa estos mucho quienes nada muchos cual poco ella estar"
    " estas algunas algo nosotros"
)
_ENGLISH = _word_set(
    "the of and to in is was that for it with as his on be at by this had not are but from or"
    " have an they which you were her she there been has their we would will what when who"
    " all can if my one so out up about into them than then some could these its our"
)


def guess_language(text: str) -> str | None:
    """``es`` or ``en`` from common words in the first 20,000 characters, or None if unclear."""
    words = _WORD.findall(text[:20_000].lower())
    spanish = sum(map(_SPANISH.__contains__, words))
    english = sum(map(_ENGLISH.__contains__, words))
    if spanish + english < 8:
        return None
    if spanish >= 2 * english:
        return "es"
    if english >= 2 * spanish:
        return "en"
    return None
