"""The places index is built at `serve` start-up, off the event loop."""

from __future__ import annotations

from flows import CountryMatcher
from intake.core import background


def test_places_are_prepared_in_a_background_thread() -> None:
    places = CountryMatcher(("en",))
    thread = background.prepare_in_background(places)
    assert thread.daemon
    thread.join(timeout=60)
    assert not thread.is_alive()
    # Built: the tables are in the instance, so the first defender does not build them.
    assert "_fuzzy_keys" in vars(places)
