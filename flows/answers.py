"""Checking and interpreting what a defender typed, one pure function per kind.

Nothing here changes what was written: text is stripped of surrounding
whitespace and otherwise kept as is, or refused with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from flows.normalize import fold
from flows.values import Answer, Choice

__all__ = [
    "MAX_ANSWER_BYTES",
    "Rejection",
    "check_attachment_id",
    "check_text",
    "match_choice",
    "match_many",
    "parse_date",
    "raw_text",
    "too_large",
]

MAX_ANSWER_BYTES = 64 * 1024
_MAX_ATTACHMENT_ID = 200
_FAR_FUTURE = timedelta(days=2 * 366)
_OLDEST_YEAR = 1900
# C0 controls but tab and newline (a CR only as part of CRLF), DEL, C1
# controls, bidi embeddings/overrides/isolates (they can make a text read
# differently from what it is), and lone surrogates (not storable as UTF-8).
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]|\r(?!\n)"
)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_FIRST = re.compile(r"^(\d{1,2})([./])(\d{1,2})\2(\d{4})$")
_SEPARATORS = re.compile("[,;\n\u060c]+")  # includes the Arabic comma


@dataclass(frozen=True)
class Rejection:
    """Why an answer was refused: a catalog key and its parameters."""

    key: str
    params: Mapping[str, int | str] = field(default_factory=dict)


def raw_text(answer: Answer) -> str:
    """The pressed choice's value, else the typed text ("" if neither)."""
    return answer.choice if answer.choice is not None else answer.text or ""


def too_large(answer: Answer) -> bool:
    """Whether any part of ``answer`` exceeds :data:`MAX_ANSWER_BYTES` (UTF-8)."""
    for part in (answer.text, answer.choice, answer.attachment):
        if part is None:
            continue
        if len(part) > MAX_ANSWER_BYTES:  # cheap first: a character is at least a byte
            return True
        if len(part.encode("utf-8", "surrogatepass")) > MAX_ANSWER_BYTES:
            return True
    return False


def check_text(raw: str, max_length: int) -> str | Rejection:
    """The stripped text, or why it cannot be accepted."""
    if _FORBIDDEN.search(raw):
        return Rejection("invalid.text_chars")
    text = raw.strip()
    if not text:
        return Rejection("invalid.text_empty")
    if len(text) > max_length:
        return Rejection("invalid.text_too_long", {"length": len(text), "max": max_length})
    return text


def check_attachment_id(raw: str) -> bool:
    """Whether an attachment id is usable (the caller assigns them; be strict)."""
    return 0 < len(raw) <= _MAX_ATTACHMENT_ID and raw.isprintable() and not raw.isspace()


def parse_date(raw: str, today: date, past_only: bool) -> date | Rejection:
    """Read YYYY-MM-DD, DD.MM.YYYY or DD/MM/YYYY (any script's digits)."""
    text = raw.strip()
    iso = _ISO_DATE.match(text)
    day_first = _DAY_FIRST.match(text)
    try:
        if iso:
            value = date(int(iso[1]), int(iso[2]), int(iso[3]))
        elif day_first:
            value = date(int(day_first[4]), int(day_first[3]), int(day_first[1]))
        else:
            return Rejection("invalid.date")
    except ValueError:
        return Rejection("invalid.date")
    if value.year < _OLDEST_YEAR:
        return Rejection("invalid.date")
    if past_only and value > today:
        return Rejection("invalid.date_future")
    if value > today + _FAR_FUTURE:
        return Rejection("invalid.date_far")
    return value


def match_choice(raw: str, choices: Sequence[Choice]) -> str | None:
    """The value of the choice ``raw`` designates: its value, its number
    (1-based, as shown) or its label, compared loosely; None if none."""
    text = raw.strip()
    for choice in choices:
        if text == choice.value:
            return choice.value
    folded = fold(text)
    if not folded:
        return None
    if folded.isdecimal() and len(folded) <= 3:
        number = int(folded)
        return choices[number - 1].value if 1 <= number <= len(choices) else None
    for choice in choices:
        if folded in (fold(choice.label), fold(choice.value)):
            return choice.value
    return None


def match_many(raw: str, choices: Sequence[Choice]) -> list[str] | None:
    """Several choices in one message ("1, 3 5", "harassment; surveillance"),
    without repeats, in the order typed; None if any piece matches nothing."""
    single = match_choice(raw, choices)
    if single is not None:
        return [single]
    pieces = [piece for piece in _SEPARATORS.split(raw) if piece.strip()]
    if len(pieces) <= 1:
        pieces = raw.split()
        if not all(fold(piece).isdecimal() for piece in pieces):
            return None
    values: list[str] = []
    for piece in pieces:
        value = match_choice(piece, choices)
        if value is None:
            return None
        if value not in values:
            values.append(value)
    return values or None
