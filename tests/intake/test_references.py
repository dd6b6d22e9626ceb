from __future__ import annotations

import re

from intake.references import new_reference, parse_reference


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
