"""Rendering /status: the states of a defender's submitted cases, no content."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from babel.dates import format_date

from flows.catalog import Catalog

__all__ = ["CASE_STATES", "STATUS_KEYS", "render_status"]

# The triage states of DESIGN §6, as intake names them.
CASE_STATES = (
    "new",
    "acknowledged",
    "in_progress",
    "awaiting_defender",
    "escalated",
    "transferred",
    "closed",
)
STATUS_KEYS = (
    "status.heading",
    "status.none",
    "status.line",
    *(f"status.state.{state}" for state in CASE_STATES),
)


def render_status(catalog: Catalog, lang: str, cases: Iterable[tuple[str, str, date]]) -> str:
    """One line per ``(reference, state, date of the last change)``.

    Raises:
        KeyError: ``state`` is not one of :data:`CASE_STATES` (a bug in the caller).
    """
    lines = [
        catalog.text(
            lang,
            "status.line",
            reference=reference,
            state=catalog.text(lang, f"status.state.{state}"),
            date=str(format_date(when, format="medium", locale=lang)),
        )
        for reference, state, when in cases
    ]
    if not lines:
        return catalog.text(lang, "status.none")
    return "\n".join([catalog.text(lang, "status.heading"), *lines])
