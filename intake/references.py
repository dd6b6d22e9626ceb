"""Typed ids (cases, missions, officers) and case references.

References are random, non-sequential, easy to read out over a phone:

`HRD-7KQ2-M9XD`: eight symbols of Crockford's base32 (no I, L, O, U), 40
bits from `secrets`, so a reference reveals neither order nor volume.
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
"""A liaison officer's id (`off-...`), shown in the audit log as `officer:<id>`."""

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PATTERN = re.compile(r"^HRD-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


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
