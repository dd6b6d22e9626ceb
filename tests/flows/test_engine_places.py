"""The country step in a conversation: places confirmed, choices, "not listed",
and what reaches the caller (answers and routing facts)."""

from __future__ import annotations

import pytest

from flows import Catalog, Engine, RoutingFacts, Submit, load_specs
from tests.flows.chat import Chat, valid_answer

SPECS = load_specs()


def at_country(engine: Engine, lang: str = "en", flow: str = "threat_report") -> Chat:
    chat = Chat(engine, lang)
    chat.start(flow)
    chat.send(choice="yes")  # consent
    if flow == "assistance_request":
        chat.send(choice="legal_aid")
    assert chat.step == "country"
    return chat


def finish(engine: Engine, chat: Chat) -> Submit:
    """Answer every remaining question plausibly and confirm; the Submit effect."""
    spec = SPECS[chat.state["flow"]]
    while chat.step is not None:
        chat.send(**valid_answer(spec.step(chat.step)))
    submits = [effect for effect in chat.effects if isinstance(effect, Submit)]
    assert len(submits) == 1
    return submits[0]


def test_a_city_is_confirmed_then_taken(engine: Engine) -> None:
    chat = at_country(engine)
    chat.send("Nairobi")
    assert chat.step == "country" and "country" not in chat.state["answers"]
    assert chat.last and chat.last.prompts[-1].text == "Did you mean Nairobi, Kenya?"
    assert chat.choices == ["KE", "retry", "unlisted"]
    chat.send("yes")
    assert chat.state["answers"]["country"] == "KE"
    assert chat.step == "at_risk"


def test_no_asks_again(engine: Engine) -> None:
    chat = at_country(engine)
    chat.send("Nairobbi")  # a typo: confirmed, never taken outright
    assert chat.choices == ["KE", "retry", "unlisted"]
    chat.send("No, I will type it again")
    assert chat.step == "country" and chat.state["pending"] is None
    assert "country" not in chat.state["answers"]
    chat.send("Kenya")
    assert chat.state["answers"]["country"] == "KE"


@pytest.mark.parametrize(
    ("lang", "typed", "yes"),
    [
        ("fr", "Crimée", "Oui"),
        ("ru", "Крым", "Да"),
        ("uk", "Крим", "Так"),
        ("ar", "القرم", "نعم"),
        ("es", "Crimea", "Sí"),
        ("en", "Ukraine, Crimea", "yes"),
    ],
)
def test_a_territory_routes_to_its_country_with_its_subdivision(
    engine: Engine, lang: str, typed: str, yes: str
) -> None:
    chat = at_country(engine, lang)
    chat.send(typed)
    assert chat.choices[0] == "UA-43"
    chat.send(yes)
    assert chat.state["answers"]["country"] == "UA-43"
    submit = finish(engine, chat)
    assert submit.answers["country"] == "UA-43"
    assert submit.routing.country == "UA"
    assert submit.routing.subdivision == "UA-43"
    assert "country.place" not in submit.answers


def test_a_plain_country_keeps_its_answer(engine: Engine) -> None:
    chat = at_country(engine, "en", "assistance_request")
    chat.send("Кения")  # a Russian name in an English chat: taken at once
    assert chat.state["answers"]["country"] == "KE"
    submit = finish(engine, chat)
    assert submit.answers["country"] == "KE"
    assert submit.routing == RoutingFacts(
        kind="assistance_request",
        country="KE",
        category=("legal_aid",),
        urgency="immediate",
        subdivision=None,
    )


def test_a_flag_is_taken(engine: Engine) -> None:
    chat = at_country(engine, "ar")
    chat.send("🇺🇦")
    assert chat.state["answers"]["country"] == "UA"


def test_ambiguous_place_gives_choices_with_a_way_out(engine: Engine) -> None:
    chat = at_country(engine)
    chat.send("Kashmir")
    assert chat.choices == ["IN", "PK", "unlisted"]
    assert "Several places match" in chat.text
    chat.send("2")
    assert chat.state["answers"]["country"] == "PK"


def test_not_listed_keeps_the_typed_place(engine: Engine, catalog: Catalog) -> None:
    chat = at_country(engine, "fr")
    chat.send("Atlantide du Nord")
    assert chat.text.startswith(catalog.text("fr", "invalid.country_none"))
    assert chat.choices == ["unlisted"]
    chat.send("Mon pays n'est pas dans la liste")
    assert chat.state["answers"]["country"] == "ZZ"
    assert chat.state["answers"]["country.place"] == "Atlantide du Nord"
    assert chat.step == "at_risk"
    spec = SPECS["threat_report"]
    while chat.step != "confirm":
        chat.send(**valid_answer(spec.step(chat.step)))
    assert "Pays : Hors liste : Atlantide du Nord" in chat.text
    submit = finish(engine, chat)
    assert submit.answers["country"] == "ZZ"
    assert submit.answers["country.place"] == "Atlantide du Nord"
    # no country: the caller routes the case to the fallback queue
    assert submit.routing.country is None and submit.routing.subdivision is None


def test_not_listed_after_a_wrong_guess(engine: Engine) -> None:
    chat = at_country(engine)
    chat.send("Nairobbi")
    chat.send(choice="unlisted")
    assert chat.state["answers"]["country"] == "ZZ"
    assert chat.state["answers"]["country.place"] == "Nairobbi"


def test_a_real_place_replaces_a_not_listed_one(engine: Engine) -> None:
    chat = at_country(engine)
    chat.send("Atlantis")
    chat.send(choice="unlisted")
    chat.send("/back")
    assert chat.step == "country"
    assert "Your answer so far: Not listed: Atlantis" in chat.text
    chat.send("Ukraine")
    assert chat.state["answers"]["country"] == "UA"
    assert "country.place" not in chat.state["answers"]


def test_back_closes_the_confirmation(engine: Engine) -> None:
    chat = at_country(engine)
    chat.send("Tbilisi")
    chat.send("/back")
    assert chat.step == "country" and chat.state["pending"] is None


def test_the_summary_names_the_subdivision(engine: Engine) -> None:
    chat = at_country(engine)
    chat.send("Gaza")
    chat.send(choice="PS-GZA")
    spec = SPECS["threat_report"]
    while chat.step != "confirm":
        chat.send(**valid_answer(spec.step(chat.step)))
    assert "Country: Gaza, Palestinian Territories" in chat.text


def test_a_pending_choice_stored_before_labels_were_kept(engine: Engine) -> None:
    chat = at_country(engine)
    chat.state["pending"] = {"kind": "country", "codes": ["KE"]}  # an older stored state
    prompt = engine.current_prompt(chat.state)
    assert prompt.text == "Did you mean Kenya?"
    assert [c.value for c in prompt.choices] == ["KE", "retry", "unlisted"]
    chat.state["pending"] = {"kind": "country", "codes": ["CD", "CG"]}
    prompt = engine.current_prompt(chat.state)
    assert prompt.text.startswith("Several places match")
    assert [c.label for c in prompt.choices][:2] == ["Congo - Kinshasa", "Congo - Brazzaville"]
