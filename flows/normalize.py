"""Loose text normalisation for matching what people type against names.

Used to compare, never to store: answers are kept exactly as written.
"""

from __future__ import annotations

import unicodedata

__all__ = ["fold"]

# Leading articles dropped before comparing ("The Gambia", "la Guinée", "الأردن").
_ARTICLES = ("the ", "le ", "la ", "les ", "l ", "el ", "los ", "las ")
_ARABIC_ARTICLE = "ال"
# Arabic-script letters often typed one for the other (alef maqsura / ya,
# ta marbuta / ha, Persian ya and kaf); compared as one.
_LETTERS = str.maketrans({"ى": "ي", "ی": "ي", "ة": "ه", "ک": "ك"})


def fold(text: str) -> str:
    """Fold ``text`` for comparison.

    NFKC, casefold, accents and other combining marks removed (this also
    unifies Arabic alef forms and drops harakat), punctuation and symbols
    turned into spaces, spaces collapsed, one leading article dropped.
    Characters that are not letters, digits or marks (controls, format
    characters, lone surrogates) are dropped.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    kept: list[str] = []
    for char in unicodedata.normalize("NFKD", text):
        category = unicodedata.category(char)
        if category.startswith(("L", "N")):
            kept.append(char)
        elif category.startswith(("P", "S", "Z")) or char in "\t\n\r":
            kept.append(" ")
        # marks (M*), controls (Cc), format (Cf), surrogates (Cs) and the rest: dropped
    folded = " ".join("".join(kept).split()).translate(_LETTERS)
    for article in _ARTICLES:
        if folded.startswith(article) and len(folded) > len(article) + 1:
            return folded[len(article) :]
    if folded.startswith(_ARABIC_ARTICLE) and len(folded) > len(_ARABIC_ARTICLE) + 1:
        return folded[len(_ARABIC_ARTICLE) :]
    return folded
