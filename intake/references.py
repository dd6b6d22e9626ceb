"""Typed ids (cases, missions, officers) and case references.

References are random, non-sequential, easy to read out over a phone:

`HRD-7KQ2-M9XD`: eight symbols of Crockford's base32 (no I, L, O, U), 40
bits from `secrets`, so a reference reveals neither order nor volume.

Officer ids are made at enrolment from the officer's name: `ana-officer-3f2a`,
a slug (lower-case ASCII letters, digits and hyphens; at most 40) and four hex
digits from `secrets`, so at most 45 characters. Whatever is typed as an officer
id is parsed against that shape before it is looked up or written anywhere: an
accepted one fits every column that names an officer (`officer:<id>` in the
audit log's 100).
"""

from __future__ import annotations

import re
import secrets
from typing import NewType

CaseRef = NewType("CaseRef", str)
"""A case's reference as shown to officers and defenders (`HRD-XXXX-XXXX`)."""
MissionId = NewType("MissionId", str)
"""A mission's id in the missions directory (`eu-ke`, `fr-embassy-ge`...)."""
OfficerId = NewType("OfficerId", str)
"""A liaison officer's id (`ana-officer-3f2a`), shown in the audit log as `officer:<id>`."""

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PATTERN = re.compile(r"^HRD-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
_SLUG_MAX = 40
# The slug starts with a letter or digit (stripped of hyphens before it is cut to
# 40, so it may end with one); then a hyphen and the four random hex digits.
_OFFICER_ID = re.compile(rf"[a-z0-9][a-z0-9-]{{0,{_SLUG_MAX - 1}}}-[0-9a-f]{{4}}")
OFFICER_ID_MAX = _SLUG_MAX + 5
REFERENCE_MAX = 20  # as `cases.reference` keeps them: a longer text is no case's reference


def new_reference() -> CaseRef:
    symbols = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return CaseRef(f"HRD-{symbols[:4]}-{symbols[4:]}")


def parse_reference(text: str) -> CaseRef | None:
    """Normalise what a person typed (case, spaces, O/0 and I/L/1); None if invalid."""
    cleaned = re.sub(r"[\s\-]", "", text).upper()
    cleaned = cleaned.removeprefix("HRD")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    candidate = f"HRD-{cleaned[:4]}-{cleaned[4:]}"
    return CaseRef(candidate) if len(cleaned) == 8 and _PATTERN.match(candidate) else None


def new_officer_id(name: str) -> OfficerId:
    """A new officer's id: their name as a slug and four random hex digits."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:_SLUG_MAX] or "officer"
    return OfficerId(f"{slug}-{secrets.token_hex(2)}")


def parse_officer_id(text: str) -> OfficerId | None:
    """`text` if it has the shape of an officer id (`new_officer_id`), else None.

    Not normalised: ids are compared exactly, so "Ana-Officer-3F2A" is no id.
    """
    return OfficerId(text) if _OFFICER_ID.fullmatch(text) else None
