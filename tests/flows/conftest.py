"""Fixtures for the flows tests: the shipped catalog and specs, one country
matcher (its index takes a moment to build), and engines with a fixed date."""

from __future__ import annotations

from datetime import date

import pytest

from flows import Catalog, CountryMatcher, Engine, FlowSpec, load_catalog, load_specs
from tests.flows.chat import TODAY


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def specs(catalog: Catalog) -> dict[str, FlowSpec]:
    return load_specs(catalog=catalog)


@pytest.fixture(scope="session")
def countries(catalog: Catalog) -> CountryMatcher:
    return CountryMatcher(catalog.languages)


@pytest.fixture(scope="session")
def engine(specs: dict[str, FlowSpec], catalog: Catalog, countries: CountryMatcher) -> Engine:
    return Engine(specs, catalog, countries, duress_words=["blue lagoon"], today=lambda: TODAY)


@pytest.fixture
def today() -> date:
    return TODAY
