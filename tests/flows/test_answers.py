"""The pure answer checks: text, dates, choices, size."""

from __future__ import annotations

from datetime import date

import pytest

from flows import Answer, Choice
from flows.answers import (
    MAX_ANSWER_BYTES,
    Rejection,
    check_text,
    match_choice,
    match_many,
    parse_date,
    too_large,
)
from flows.commands import Command, parse_command

TODAY = date(2026, 6, 15)
CHOICES = (
    Choice("me", "Me"),
    Choice("someone_else", "Someone else"),
    Choice("org", "Organisation"),
)


@pytest.mark.parametrize(
    "text",
    [
        "they came at night",
        "line one\nline two\twith a tab",
        "windows\r\nline ending",
        "zero\u200bwidth inside a word",
        "Robert'); DROP TABLE cases;--",
        "<script>alert(1)</script><img src=x onerror=alert(2)>",
        "{reference} %s %(x)s ${x} {{x}}",
        "مرحبا بالعالم — عربي مع \u200f علامة",
        "emoji 🙂 and CJK 漢字",
    ],
)
def test_text_is_kept_exactly(text: str) -> None:
    assert check_text(f"  {text}  ", 4000) == text


@pytest.mark.parametrize(
    "text",
    [
        "nul\x00byte",
        b"\x00\xff".decode("latin-1"),
        "bell\x07",
        "escape\x1b[31m",
        "del\x7f",
        "c1\x85",
        "lone\rcr",
        "rtl \u202e override",
        "embed \u202a",
        "isolate \u2066x\u2069",
        "surrogate \ud800",
        "low \udfff",
    ],
)
def test_control_bidi_and_surrogates_are_refused(text: str) -> None:
    assert check_text(text, 4000) == Rejection("invalid.text_chars")


def test_empty_and_too_long() -> None:
    assert check_text("   \n\t ", 10) == Rejection("invalid.text_empty")
    assert check_text("x" * 11, 10) == Rejection("invalid.text_too_long", {"length": 11, "max": 10})
    assert check_text(" " + "x" * 10 + " ", 10) == "x" * 10


def test_too_large_counts_utf8_bytes() -> None:
    assert not too_large(Answer(text="x" * MAX_ANSWER_BYTES))
    assert too_large(Answer(text="x" * (MAX_ANSWER_BYTES + 1)))
    assert too_large(Answer(text="é" * (MAX_ANSWER_BYTES // 2 + 1)))
    assert too_large(Answer(choice="x" * 1_000_000))
    assert too_large(Answer(attachment="x" * 1_000_000))
    assert not too_large(Answer(text="\ud800"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-31", date(2026, 5, 31)),
        ("31.05.2026", date(2026, 5, 31)),
        ("31/05/2026", date(2026, 5, 31)),
        ("1.5.2026", date(2026, 5, 1)),
        (" 2026-5-1 ", date(2026, 5, 1)),
        ("٢٠٢٦-٠٥-٠١", date(2026, 5, 1)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert parse_date(text, TODAY, past_only=False) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2026-02-30",
        "31.13.2026",
        "2026/05/31",
        "31.05/2026",
        "1899-12-31",
        "99999-01-01",
        "2026-05-31T10:00",
        "0" * 5000,
    ],
)
def test_not_dates(text: str) -> None:
    assert parse_date(text, TODAY, past_only=False) == Rejection("invalid.date")


def test_future_dates() -> None:
    assert parse_date("2026-06-16", TODAY, past_only=True) == Rejection("invalid.date_future")
    assert parse_date("2026-06-15", TODAY, past_only=True) == TODAY
    assert parse_date("2027-06-16", TODAY, past_only=False) == date(2027, 6, 16)
    assert parse_date("2030-01-01", TODAY, past_only=False) == Rejection("invalid.date_far")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("me", "me"),
        ("2", "someone_else"),
        (" 3 ", "org"),
        ("3.", "org"),
        ("SOMEONE ELSE", "someone_else"),
        ("organisation", "org"),
        ("someone_else", "someone_else"),
        ("4", None),
        ("0", None),
        ("", None),
        ("nobody", None),
        ("9" * 5000, None),
    ],
)
def test_match_choice(text: str, value: str | None) -> None:
    assert match_choice(text, CHOICES) == value


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("1, 3", ["me", "org"]),
        ("1 3 1", ["me", "org"]),
        ("me; organisation", ["me", "org"]),
        ("2", ["someone_else"]),
        ("Someone else", ["someone_else"]),
        ("1, 7", None),
        ("me and you", None),
        ("", None),
        ("1،2", ["me", "someone_else"]),
    ],
)
def test_match_many(text: str, values: list[str] | None) -> None:
    assert match_many(text, CHOICES) == values


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("/help", Command.HELP),
        ("!BACK", Command.BACK),
        ("/Start", Command.START),
        ("/help@HrdIntakeBot", Command.HELP),
        (" /status ", Command.STATUS),
        ("/lang", Command.LANGUAGE),
    ],
)
def test_commands(text: str, command: Command) -> None:
    parsed = parse_command(text)
    assert parsed is not None
    assert parsed.command is command


def test_unknown_commands_and_ordinary_text() -> None:
    parsed = parse_command("/frobnicate")
    assert parsed is not None
    assert parsed.command is None
    assert parsed.word == "frobnicate"
    for text in ("help", "/ help", "!!! they came", "/help me please", "//", "/", "a/b", "/x" * 40):
        assert parse_command(text) is None, text
