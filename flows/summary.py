"""Rendering answers for people: the summary before confirmation, and one
answer when a question is asked again after /back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal

from flows.catalog import Catalog
from flows.countries import CountryMatcher
from flows.place_answer import NOT_LISTED, PLACE_SUFFIX
from flows.spec_types import Expect, FlowSpec, StepSpec

__all__ = ["SUMMARY_KEYS", "format_answer", "list_separator", "render_summary"]

SUMMARY_KEYS = ("summary.heading", "summary.line", "summary.none")
# How the items of a list are joined; Arabic uses its own comma.
_LIST_SEPARATORS = {"ar": "، "}


def list_separator(lang: str) -> str:
    """", " (or the language's own list separator, "، " in Arabic)."""
    return _LIST_SEPARATORS.get(lang, ", ")


def format_answer(
    step: StepSpec,
    value: str | list[str],
    lang: str,
    catalog: Catalog,
    countries: CountryMatcher,
    place: str | list[str] | None = None,
) -> str:
    """``value`` as the defender would say it: labels, names, a local date
    (``place``: what was typed at a country step answered "not listed")."""
    values = value if isinstance(value, list) else [value]
    labels = dict(step.choices())
    comma = list_separator(lang)
    if step.expect in (Expect.CHOICE, Expect.MULTI, Expect.YESNO):
        return comma.join(catalog.text(lang, labels[item]) for item in values if item in labels)
    if step.expect is Expect.COUNTRY:
        if values == [NOT_LISTED]:
            typed = place if isinstance(place, str) else ""
            return catalog.text(lang, "engine.country_unlisted_answer", place=typed)
        return comma.join(countries.name(item, lang) for item in values)
    if step.expect is Expect.DATE:
        return comma.join(
            str(format_date(date.fromisoformat(item), format="long", locale=lang))
            for item in values
        )
    if step.expect is Expect.FILES:
        if not values:
            return catalog.text(lang, "summary.none")
        return str(format_decimal(len(values), locale=lang))
    return "\n".join(values)


def render_summary(
    spec: FlowSpec,
    answers: dict[str, str | list[str]],
    path: Sequence[str],
    lang: str,
    catalog: Catalog,
    countries: CountryMatcher,
) -> str:
    """The heading and one line per answered step on ``path``, in order."""
    lines = [catalog.text(lang, "summary.heading")]
    for step_id in path:
        step = spec.step(step_id)
        if step.label is None or step_id not in answers:
            continue
        place = answers.get(step_id + PLACE_SUFFIX)
        value = format_answer(step, answers[step_id], lang, catalog, countries, place)
        label = catalog.text(lang, step.label)
        lines.append(catalog.text(lang, "summary.line", label=label, value=value))
    return "\n".join(lines)
