"""Conversations as data: flow specs, message catalogs and the engine that runs them.

A pure library: it imports nothing else of the project and does no I/O while
a conversation runs (it reads its spec and catalog files when they are
loaded). Typical use, in the composition root::

    catalog = load_catalog()
    engine = Engine(load_specs(catalog=catalog), catalog, CountryMatcher(catalog.languages))
    outcome = engine.handle(state, Answer(text="hello"))
"""

from flows.answers import Rejection, check_text
from flows.catalog import Catalog, load_catalog
from flows.countries import CountryMatcher
from flows.diagram import to_mermaid
from flows.engine import Engine
from flows.errors import CatalogError, FlowsError, SpecError
from flows.normalize import fold
from flows.place_answer import NOT_LISTED, PLACE_SUFFIX, Place, PlaceMatch, split_place
from flows.spec import load_specs
from flows.spec_types import ABORT, SUBMIT, Condition, Edge, Expect, FlowSpec, Routing, StepSpec
from flows.state import STATE_VERSION
from flows.status import CASE_STATES, render_status
from flows.summary import format_answer
from flows.values import (
    Answer,
    Choice,
    DiscardDraft,
    Duress,
    Effect,
    Outcome,
    Prompt,
    RoutingFacts,
    ShowStatus,
    Submit,
    Wipe,
)

__all__ = [
    "ABORT",
    "CASE_STATES",
    "NOT_LISTED",
    "PLACE_SUFFIX",
    "STATE_VERSION",
    "SUBMIT",
    "Answer",
    "Catalog",
    "CatalogError",
    "Choice",
    "Condition",
    "CountryMatcher",
    "DiscardDraft",
    "Duress",
    "Edge",
    "Effect",
    "Engine",
    "Expect",
    "FlowSpec",
    "FlowsError",
    "Outcome",
    "Place",
    "PlaceMatch",
    "Prompt",
    "Rejection",
    "Routing",
    "RoutingFacts",
    "ShowStatus",
    "SpecError",
    "StepSpec",
    "Submit",
    "Wipe",
    "check_text",
    "fold",
    "format_answer",
    "load_catalog",
    "load_specs",
    "render_status",
    "split_place",
    "to_mermaid",
]
