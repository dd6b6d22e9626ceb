"""Checking the routing configuration against the missions directory and the flows.

`config.toml` is parsed alone (`intake.config`); whether its routing makes
sense needs the missions directory (in the database) and the flow specs. This
is checked when a command that routes starts (`serve`, `chat`), so that a
fallback naming no mission is refused with its key at start-up instead of a
defender meeting "Sorry, something went wrong" at Send.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from flows import FlowSpec
from intake.config import Settings
from intake.errors import ConfigError
from intake.triage.missions import is_language, is_place

__all__ = ["check_routing", "flow_vocabulary", "is_language", "is_place"]

def flow_vocabulary(specs: Mapping[str, FlowSpec]) -> dict[str, frozenset[str]]:
    """What rules may name: `kinds` (the flows), `categories` and `urgencies` (their options)."""
    categories: set[str] = set()
    urgencies: set[str] = set()
    for spec in specs.values():
        if spec.routing.category:
            categories.update(spec.step(spec.routing.category).options)
        if spec.routing.urgency:
            urgencies.update(spec.step(spec.routing.urgency).options)
    return {
        "kinds": frozenset(spec.kind for spec in specs.values()),
        "categories": frozenset(categories),
        "urgencies": frozenset(urgencies),
    }


def _problems(
    settings: Settings, specs: Mapping[str, FlowSpec], missions: Collection[str]
) -> Iterator[str]:
    routing = settings.routing
    known = ", ".join(sorted(missions)) or "none: run `hrd-intake missions import FILE`"
    if routing.fallback is not None and routing.fallback not in missions:
        yield (
            f"routing.fallback = {routing.fallback!r} is not a mission in the directory "
            f"(the queue for cases no rule or mission serves; known missions: {known})"
        )
    vocabulary = flow_vocabulary(specs)
    for position, rule in enumerate(routing.rules, start=1):
        where = f"routing.rules, rule {position} ([[routing.rules]] number {position})"
        if rule.mission not in missions:
            yield f"{where}: mission = {rule.mission!r} is not in the directory (known: {known})"
        for code in rule.countries:
            if not is_place(code):
                yield (
                    f"{where}: countries has {code!r}, which is neither an ISO 3166-1 country "
                    "code (KE), an ISO 3166-2 subdivision (UA-43) nor ZZ (not listed)"
                )
        for field in ("kinds", "categories", "urgencies"):
            allowed = vocabulary[field]
            for value in getattr(rule, field):
                if value not in allowed:
                    yield (
                        f"{where}: {field} has {value!r}, which no flow offers "
                        f"(known: {', '.join(sorted(allowed))})"
                    )
    if not is_language(settings.default_language):
        yield (
            f"default_language = {settings.default_language!r} is not an ISO 639 language code "
            "(the language of a defender whose platform does not say; e.g. en, fr, uk)"
        )


def check_routing(
    settings: Settings, specs: Mapping[str, FlowSpec], missions: Collection[str]
) -> None:
    """Refuse a configuration whose routing names what does not exist.

    Args:
        settings: the parsed configuration.
        specs: the flow specs, whose kinds and options rules may name.
        missions: the ids in the missions directory.

    Raises:
        ConfigError: every problem, each with its TOML key and the value.
    """
    problems = list(_problems(settings, specs, missions))
    if problems:
        raise ConfigError("the configuration cannot route cases: " + "; ".join(problems))
