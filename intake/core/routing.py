"""Routing: which mission's queue a submission goes to.

Ordered rules from the configuration (first match wins; a rule may name a
country, "UA", a first-level subdivision, "UA-43", for the exceptions, or
"ZZ", not listed), then the missions directory (a delegation serving the
country before an embassy), then the fallback queue, which also takes every
"my country is not listed" case no rule names. A case is never dropped for want of a route: with no
fallback configured, routing fails loudly before anything is acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from flows import NOT_LISTED, RoutingFacts
from intake.config import RoutingRule
from intake.errors import RoutingError

log = logging.getLogger(__name__)


def _places(facts: RoutingFacts) -> set[str]:
    """The codes a rule's `countries` may name for these facts.

    The country ("UA") matches all of it; a subdivision ("UA-43") only that
    subdivision, so an exception is written as a rule before the country's;
    "ZZ" (`flows.NOT_LISTED`) matches the defender's "my country is not listed".
    """
    if facts.country is None:
        return {NOT_LISTED}
    return {facts.country} | ({facts.subdivision} if facts.subdivision else set())


def _matches(rule: RoutingRule, facts: RoutingFacts) -> bool:
    if rule.countries and not _places(facts) & set(rule.countries):
        return False
    if rule.kinds and facts.kind not in rule.kinds:
        return False
    if rule.categories and not set(rule.categories) & set(facts.category):
        return False
    return not (rule.urgencies and facts.urgency not in rule.urgencies)


__all__ = ["Router", "RoutingError", "RoutingFacts"]


class Router:
    """Routes facts to a mission id.

    Args:
        rules: ordered rules from the configuration.
        fallback: the queue for everything else (headquarters), or None.
        serving: returns the missions serving a country, best first.
        exists: tells whether a mission id is in the directory.
    """

    def __init__(
        self,
        rules: Sequence[RoutingRule],
        fallback: str | None,
        serving: Callable[[str], list[str]],
        exists: Callable[[str], bool],
    ) -> None:
        self._rules = tuple(rules)
        self._fallback = fallback
        self._serving = serving
        self._exists = exists

    def route(self, facts: RoutingFacts) -> str:
        """Return the mission id for `facts`.

        Raises:
            RoutingError: nothing matches and no usable fallback exists.
        """
        for index, rule in enumerate(self._rules):
            if _matches(rule, facts):
                if self._exists(rule.mission):
                    return rule.mission
                log.warning(
                    "routing rule %d names unknown mission %s; skipped", index, rule.mission
                )
        if facts.country:
            serving = self._serving(facts.country)
            if serving:
                return serving[0]
        if self._fallback and self._exists(self._fallback):
            return self._fallback
        raise RoutingError(
            "no routing rule or mission serves this submission and the fallback queue "
            f"({self._fallback or 'unset'}) is not in the missions directory"
        )
