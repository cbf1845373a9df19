"""Language tags (BCP 47, RFC 5646), checked by syntax only.

The check is for well-formedness (section 2.1 of RFC 5646, plus no repeated variant or
extension singleton, section 2.2.5-2.2.6); whether a subtag is registered with IANA is not
checked, so that the archive needs no registry file. Tags come back in the recommended case
(section 2.1.1): ``ES-cl`` -> ``es-CL``, ``sr-latn-rs`` -> ``sr-Latn-RS``.
"""

from __future__ import annotations

import re

_LANGTAG = re.compile(
    r"""
    (?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})     # language, with up to 3 extlang
    (?:-[a-z]{4})?                                  # script
    (?:-(?:[a-z]{2}|[0-9]{3}))?                     # region
    (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*        # variants
    (?:-[a-wyz0-9](?:-[a-z0-9]{2,8})+)*             # extensions
    (?:-x(?:-[a-z0-9]{1,8})+)?                      # private use
    """,
    re.VERBOSE,
)
_PRIVATE_USE = re.compile(r"x(?:-[a-z0-9]{1,8})+")

# The irregular grandfathered tags of RFC 5646 section 2.2.8, which the syntax above rejects;
# the regular ones (art-lojban, zh-min-nan, ...) already fit it.
_IRREGULAR = {
    tag.lower(): tag
    for tag in [
        "en-GB-oed",
        "i-ami",
        "i-bnn",
        "i-default",
        "i-enochian",
        "i-hak",
        "i-klingon",
        "i-lux",
        "i-mingo",
        "i-navajo",
        "i-pwn",
        "i-tao",
        "i-tay",
        "i-tsu",
        "sgn-BE-FR",
        "sgn-BE-NL",
        "sgn-CH-DE",
    ]
}


def _recommended_case(subtags: list[str]) -> str:
    out = [subtags[0]]
    for subtag in subtags[1:]:
        if len(subtag) == 1:
            # After a singleton, extensions and private use keep lower case.
            out.append("-".join(subtags[len(out) :]))
            break
        if len(subtag) == 2 and subtag.isalpha():
            out.append(subtag.upper())
        elif len(subtag) == 4 and subtag.isalpha():
            out.append(subtag.title())
        else:
            out.append(subtag)
    return "-".join(out)


def _has_repeats(subtags: list[str]) -> bool:
    """True if a variant or an extension singleton appears twice (RFC 5646 2.2.5, 2.2.6)."""
    variants: list[str] = []
    singletons: list[str] = []
    for subtag in subtags[1:]:
        if subtag == "x":
            break
        if len(subtag) == 1:
            singletons.append(subtag)
        elif not singletons and (len(subtag) >= 5 or (len(subtag) == 4 and subtag[0].isdigit())):
            variants.append(subtag)
    return len(set(variants)) < len(variants) or len(set(singletons)) < len(singletons)


def normalise_language_tag(text: str) -> str:
    """The tag in recommended case; ValueError if it is not a well-formed BCP 47 tag."""
    lowered = text.strip().lower()
    if lowered in _IRREGULAR:
        return _IRREGULAR[lowered]
    if _PRIVATE_USE.fullmatch(lowered):
        return lowered
    if not _LANGTAG.fullmatch(lowered) or _has_repeats(lowered.split("-")):
        raise ValueError(f"{text!r} is not a language tag")
    return _recommended_case(lowered.split("-"))
