from __future__ import annotations

import re

from intake.references import (
    OFFICER_ID_MAX,
    new_officer_id,
    new_reference,
    parse_officer_id,
    parse_reference,
)


def test_references_are_random_and_well_formed() -> None:
    drawn = {new_reference() for _ in range(2000)}
    assert len(drawn) == 2000
    assert all(re.fullmatch(r"HRD-[0-9A-Z]{4}-[0-9A-Z]{4}", ref) for ref in drawn)
    assert not any(set(ref[4:]) & set("ILOU") for ref in drawn)


def test_parse_accepts_what_people_type() -> None:
    assert parse_reference("hrd-7kq2-m9xd") == "HRD-7KQ2-M9XD"
    assert parse_reference("7KQ2 M9XD") == "HRD-7KQ2-M9XD"
    assert parse_reference("HRD-7KQ2-M9XO") == "HRD-7KQ2-M9X0"
    assert parse_reference("HRD-7KQ2") is None
    assert parse_reference("'; DROP TABLE cases; --") is None


NAMES = [
    "Ana Officer",
    "",
    "---",
    "Ékaterina Łukasiewicz-Nováková",
    "a" * 39 + " b",  # cut at 40 just after a hyphen
    "x" * 200,
    "O'Brien (acting), 2nd",
    "مسؤول الاتصال",
]


def test_every_officer_id_enrolment_makes_parses_and_fits() -> None:
    for name in NAMES:
        officer_id = new_officer_id(name)
        assert parse_officer_id(officer_id) == officer_id, name
        assert len(f"officer:{officer_id}") <= 100  # the audit log's actor column
    assert len(new_officer_id("x" * 200)) == OFFICER_ID_MAX


def test_anything_else_is_no_officer_id() -> None:
    for typed in (
        "",
        "ana",
        "Ana-Officer-3F2A",  # ids are compared exactly: no normalising
        "-ana-3f2a",
        "ana-officer-3f2a\n",
        " ana-officer-3f2a",
        "ana officer-3f2a",
        "ana-officer-3f2g",
        "é-3f2a",
        "a" * 41 + "-3f2a",
        "correct horse battery staple",
        "ana-officer-" + "0" * 200,
    ):
        assert parse_officer_id(typed) is None, typed
    assert parse_officer_id("a" * 40 + "-3f2a") == "a" * 40 + "-3f2a"
    assert parse_officer_id("officer-0000") == "officer-0000"
