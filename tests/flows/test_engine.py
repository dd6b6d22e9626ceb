"""Whole conversations through the Engine: walks, follow-ups, commands, restarts."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from transitions import Machine

from flows import (
    Answer,
    Catalog,
    CountryMatcher,
    DiscardDraft,
    Duress,
    Engine,
    FlowSpec,
    RoutingFacts,
    ShowStatus,
    Submit,
    Wipe,
    load_catalog,
    load_specs,
)
from tests.flows.chat import TODAY, Chat, menu_state, valid_answer


def walk_threat_report(chat: Chat) -> None:
    """Given a chat at the menu, answer the threat report up to the confirm step."""
    chat.send("hello")
    chat.start("threat_report")
    chat.send(choice="yes")
    chat.send("Ukraine")
    chat.send(choice="someone_else")
    chat.send("1, 5")  # intimidation, surveillance: several at once
    chat.send(choice="earlier")
    chat.send("01.05.2026")
    chat.send("They followed me home and photographed my office.")
    chat.send(attachment="att-1")
    chat.send(attachment="att-2")
    chat.send(choice="done")
    chat.send(choice="immediate")
    chat.send("Signal, after 20:00")
    chat.send(choice="confidential")
    chat.send(choice="yes")
    assert chat.step == "confirm"


def test_threat_report_to_submit(engine: Engine) -> None:
    chat = Chat(engine)
    walk_threat_report(chat)
    summary = chat.text
    for expected in (
        "Country: Ukraine",
        "Person at risk: Someone else",
        "Type of threat: Intimidation, Surveillance",
        "Date: May 1, 2026",
        "What happened: They followed me home",
        "Files: 2",
        "Urgency: Immediate danger now",
        "Use of the case: Keep it confidential",
    ):
        assert expected in summary
    outcome = chat.send(choice="confirm")
    (submit,) = outcome.effects
    assert isinstance(submit, Submit)
    assert submit.flow == "threat_report"
    assert submit.language == "en"
    assert submit.routing == RoutingFacts(
        kind="threat_report",
        country="UA",
        category=("intimidation", "surveillance"),
        urgency="immediate",
    )
    assert submit.answers == {
        "consent_store": "yes",
        "country": "UA",
        "at_risk": "someone_else",
        "threat_types": ["intimidation", "surveillance"],
        "when": "earlier",
        "when_date": "2026-05-01",
        "details": "They followed me home and photographed my office.",
        "evidence": ["att-1", "att-2"],
        "urgency": "immediate",
        "contact": "Signal, after 20:00",
        "usage": "confidential",
        "share_un": "yes",
    }
    json.dumps(submit.answers)
    assert chat.state == menu_state(engine, "en")
    assert outcome.prompts[-1].choices[0].value == "threat_report"  # back at the menu


def test_refusing_consent_aborts_without_storing(engine: Engine) -> None:
    chat = Chat(engine)
    chat.start("threat_report")
    outcome = chat.send("no")
    assert outcome.effects == (DiscardDraft(()),)
    assert chat.state == menu_state(engine, "en")
    assert "Nothing has been stored" in chat.text


FOLLOW_UPS = {
    "trial_monitoring": ["trial_court", "trial_city", "hearing_date"],
    "detention_visit": ["detainee", "detention_place", "detained_since"],
    "emergency_grant": ["grant_purpose", "grant_amount"],
    "legal_aid": [],
    "temporary_relocation": [],
    "medical_psychosocial": [],
    "digital_security": [],
    "advocacy_statement": [],
}
COMMON_TAIL = ["country", "urgency", "contact", "usage", "share_un", "confirm"]


@pytest.mark.parametrize("kind", sorted(FOLLOW_UPS))
def test_assistance_request_follow_ups(
    engine: Engine, specs: dict[str, FlowSpec], kind: str
) -> None:
    spec = specs["assistance_request"]
    chat = Chat(engine, "es")
    chat.start("assistance_request")
    chat.send(choice="yes")  # consent
    chat.send(choice=kind)
    visited = []
    while chat.step is not None:
        step = spec.step(chat.step)
        visited.append(step.id)
        chat.send(**valid_answer(step))
    assert visited == FOLLOW_UPS[kind] + COMMON_TAIL
    (submit,) = chat.last.effects if chat.last else ()
    assert isinstance(submit, Submit)
    assert submit.routing == RoutingFacts(
        kind="assistance_request", country="UA", category=(kind,), urgency="immediate"
    )
    expected = {"consent_store", "help_kind", *FOLLOW_UPS[kind], *COMMON_TAIL} - {"confirm"}
    assert set(submit.answers) == expected
    assert submit.language == "es"


def test_hearing_date_may_be_ahead_but_detention_not(engine: Engine) -> None:
    chat = Chat(engine)
    chat.start("assistance_request")
    chat.send(choice="yes")
    chat.send(choice="trial_monitoring")
    chat.send("Regional court no. 3")
    chat.send("Minsk")
    chat.send("2026-07-20")
    assert chat.step == "country"
    chat = Chat(engine)
    chat.start("assistance_request")
    chat.send(choice="yes")
    chat.send(choice="detention_visit")
    chat.send("A. B.")
    chat.send("Pre-trial centre 1")
    before = chat.state
    chat.send("2026-07-20")
    assert chat.state == before
    assert "in the future" in chat.text


def at_details(engine: Engine, lang: str = "en") -> Chat:
    chat = Chat(engine, lang)
    chat.start("threat_report")
    for answer in (
        {"choice": "yes"},
        {"text": "France"},
        {"choice": "me"},
        {"text": "2, 3"},
        {"choice": "earlier"},
        {"text": "2026-01-02"},
    ):
        chat.send(**answer)
    assert chat.step == "details"
    return chat


def test_help_status_start_and_unknown_keep_the_state(engine: Engine, catalog: Catalog) -> None:
    chat = at_details(engine)
    before = chat.state
    prompt = catalog.text("en", "threat.details.prompt")
    chat.send("/help")
    assert chat.state == before
    assert "/delete" in chat.text and chat.last and chat.last.prompts[-1].text == prompt
    outcome = chat.send("!STATUS")
    assert outcome.effects == (ShowStatus(),)
    assert chat.state == before and outcome.prompts[-1].text == prompt
    chat.send("/start")
    assert chat.state == before
    assert "draft in progress" in chat.text
    chat.send("/sudo")
    assert chat.state == before
    assert "I do not know the command /sudo." in chat.text
    assert "/cancel" in chat.text and chat.last and chat.last.prompts[-1].text == prompt


def test_back_keeps_answers_and_offers_them(engine: Engine) -> None:
    chat = at_details(engine)
    chat.send("They came at night.")
    chat.send("/back")
    assert chat.step == "details"
    assert chat.state["answers"]["details"] == "They came at night."
    assert "Your answer so far: They came at night." in chat.text
    assert chat.choices == ["keep"]
    chat.send(choice="keep")
    assert chat.step == "evidence"
    chat.send("!back")
    chat.send("!Back")
    assert chat.step == "when_date"
    assert "January 2, 2026" in chat.text
    chat.send("1")  # "keep" by its number
    assert chat.step == "details"


def test_back_past_a_branch_drops_its_answer_from_the_submission(engine: Engine) -> None:
    chat = at_details(engine)
    chat.send("/back")
    chat.send("/back")
    assert chat.step == "when"
    chat.send(choice="today")  # no date step now
    assert chat.step == "details"
    chat.send("Text")
    for answer in ("skip", "1", "Signal", "1", "1"):
        chat.send(answer)
    assert chat.step == "confirm"
    assert "Date:" not in chat.text
    (submit,) = chat.send(choice="confirm").effects
    assert isinstance(submit, Submit)
    assert "when_date" not in submit.answers


def test_back_at_the_first_question(engine: Engine) -> None:
    chat = Chat(engine)
    chat.start("threat_report")
    before = chat.state
    chat.send("/back")
    assert chat.state == before
    assert "first question" in chat.text


def test_cancel_discards_the_draft_and_its_files(engine: Engine) -> None:
    chat = at_details(engine)
    chat.send("text")
    chat.send(attachment="a1")
    chat.send(attachment="a2")
    outcome = chat.send("/cancel")
    assert outcome.effects == (DiscardDraft(("a1", "a2")),)
    assert chat.state == menu_state(engine, "en")
    outcome = chat.send("/cancel")
    assert outcome.effects == ()


def test_attachments_of_a_stored_draft(engine: Engine) -> None:
    chat = at_details(engine)
    assert engine.attachments(chat.state) == ()
    chat.send("text")
    chat.send(attachment="a1")
    assert engine.attachments(json.loads(json.dumps(chat.state))) == ("a1",)
    assert engine.attachments({**chat.state, "step": "gone"}) == ("a1",)
    assert engine.attachments({}) == ()


def test_delete_wipes(engine: Engine) -> None:
    chat = at_details(engine, "ru")
    chat.send("text")
    chat.send(attachment="a1")
    outcome = chat.send("/delete")
    assert outcome.effects == (Wipe(("a1",)),)
    assert chat.state == engine.new_state("ru")


def test_language_change_mid_flow(engine: Engine, catalog: Catalog) -> None:
    chat = at_details(engine)
    before = chat.state
    chat.send("/language")
    assert chat.choices == ["en", "ar", "es", "fr", "ru", "uk"]
    assert [c.label for c in chat.last.prompts[-1].choices] == [  # type: ignore[union-attr]
        "English",
        "العربية",
        "Español",
        "Français",
        "Русский",
        "Українська",
    ]
    chat.send("Français")
    assert chat.state == {**before, "lang": "fr"}
    assert chat.text.splitlines()[0] == "Désormais, je vous écris en français."
    assert chat.last and chat.last.prompts[-1].text == catalog.text("fr", "threat.details.prompt")
    chat.send("/language")
    chat.send("2")  # Arabic by its number
    assert chat.state["lang"] == "ar"
    chat.send("/language")
    chat.send(choice="ru")
    assert chat.state["lang"] == "ru"
    assert engine.current_prompt(chat.state).text == catalog.text("ru", "threat.details.prompt")


def test_language_from_the_menu(engine: Engine) -> None:
    chat = Chat(engine)
    chat.send("hi")
    chat.send(choice="language")
    chat.send(choice="es")
    assert chat.state == menu_state(engine, "es")
    assert "Informe" not in chat.text and "¿Qué desea hacer?" in chat.text


def test_summary_is_localized(engine: Engine) -> None:
    chat = at_details(engine, "fr")
    chat.send("Ils sont venus la nuit.")
    chat.send(choice="skip")
    chat.send(choice="days")
    chat.send("Signal")
    chat.send(choice="public_statement")
    chat.send(choice="no")
    text = chat.text
    for expected in (
        "Merci de vérifier vos réponses :",
        "Pays : France",
        "Date : 2 janvier 2026",
        "Fichiers : Aucun",
        "Ce qui s'est passé : Ils sont venus la nuit.",
        "Urgence : Aide nécessaire d'ici quelques jours",
    ):
        assert expected in text
    assert chat.choices == ["confirm", "edit", "cancel"]
    chat.send("Revenir et modifier")  # lists the answers, to pick the one to change
    assert chat.step == "confirm" and chat.state["pending"] == {"kind": "edit"}
    assert "Quelle réponse voulez-vous modifier ?" in chat.text
    labels = [c.label for c in chat.last.prompts[-1].choices] if chat.last else []
    assert "Pays : France" in labels and labels[-1] == "Ne rien modifier"


def test_confirm_cancel(engine: Engine) -> None:
    chat = at_details(engine)
    chat.send("t")
    chat.send(attachment="z")
    chat.send("Done")
    for answer in ("1", "c", "1", "1"):
        chat.send(answer)
    assert chat.step == "confirm"
    outcome = chat.send("3")
    assert outcome.effects == (DiscardDraft(("z",)),)
    assert chat.state["flow"] is None


def test_restart_continues_at_the_same_step(
    engine: Engine, specs: dict[str, FlowSpec], catalog: Catalog
) -> None:
    chat = at_details(engine)
    stored = json.dumps(chat.state)
    fresh_catalog = load_catalog()
    restarted = Engine(
        load_specs(catalog=fresh_catalog),
        fresh_catalog,
        CountryMatcher(fresh_catalog.languages),
        today=lambda: TODAY,
    )
    state = json.loads(stored)
    assert restarted.current_prompt(state).text == catalog.text("en", "threat.details.prompt")
    outcome = restarted.handle(state, Answer(text="After the restart."))
    assert outcome.state["step"] == "evidence"
    assert outcome.state["answers"]["details"] == "After the restart."
    assert outcome.state["history"][-1] == "details"


def test_a_state_from_an_older_spec_starts_again(engine: Engine) -> None:
    chat = at_details(engine)
    chat.send("t")
    chat.send(attachment="a1")
    state = {**chat.state, "step": "removed_in_a_later_version"}
    outcome = engine.handle(state, Answer(text="hello"))
    assert outcome.effects == (DiscardDraft(("a1",)),)
    assert outcome.state == menu_state(engine, "en")
    assert "could not continue" in outcome.prompts[0].text


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"v": 99},
        {"v": 1, "lang": "en"},
        {
            "v": 1,
            "lang": 5,
            "flow": None,
            "step": None,
            "answers": {},
            "history": [],
            "pending": None,
        },
        {
            "v": 1,
            "lang": "en",
            "flow": None,
            "step": None,
            "answers": {"a": 1},
            "history": [],
            "pending": None,
        },
        {
            "v": 1,
            "lang": "en",
            "flow": "threat_report",
            "step": None,
            "answers": {},
            "history": [],
            "pending": None,
        },
        {
            "v": 1,
            "lang": "en",
            "flow": None,
            "step": None,
            "answers": {},
            "history": [],
            "pending": {"kind": "evil"},
        },
    ],
)
def test_unreadable_states_never_raise(engine: Engine, state: dict[str, object]) -> None:
    outcome = engine.handle(state, Answer(text="hi"))
    assert outcome.state["flow"] is None
    assert engine.current_prompt(state).choices


def test_unknown_language_in_state_falls_back(engine: Engine) -> None:
    state = {**engine.new_state(), "lang": "xx"}
    assert engine.handle(state, Answer(text="hi")).state["lang"] == "en"
    assert engine.new_state("xx")["lang"] == "en"


def test_duress_word(engine: Engine) -> None:
    chat = at_details(engine, "fr")
    chat.send("t")
    chat.send(attachment="a1")
    outcome = chat.send("  Blue   LAGOON ")
    assert outcome.effects == (Duress(("a1",)),)
    assert chat.state == engine.new_state("fr")
    assert "Bonjour" in chat.text  # looks like a fresh conversation
    assert Chat(engine).send("blue lagoon").effects == (Duress(()),)
    assert Chat(engine).send("blue lagoon now").effects == ()


@pytest.mark.parametrize(
    "word", ["yes", "Oui", "no", "help", "ok", "Terminé", "France", "Украина", "Send", "  "]
)
def test_a_duress_word_must_not_be_an_ordinary_answer(
    specs: dict[str, FlowSpec], catalog: Catalog, countries: CountryMatcher, word: str
) -> None:
    with pytest.raises(ValueError, match="duress word") as caught:
        Engine(specs, catalog, countries, duress_words=["blue lagoon", word])
    assert word.lower() not in str(caught.value).lower()  # the word is a secret: not in logs


def test_one_shared_machine_per_flow_attached_only_during_a_step(engine: Engine) -> None:
    machines = {name: flow.machine for name, flow in engine._machines.items()}
    baseline = {name: len(machine.models) for name, machine in machines.items()}
    assert baseline == {"threat_report": 0, "assistance_request": 0, "safety_checkin": 0}
    seen: list[int] = []
    original = Machine.add_model

    def spy(self: Machine, model: object, initial: object = None) -> None:
        original(self, model, initial)
        seen.append(len(self.models))

    # No Machine is built while conversations run, and each step attaches one model.
    with (
        mock.patch.object(Machine, "__init__", side_effect=AssertionError("built a Machine")),
        mock.patch.object(Machine, "add_model", spy),
    ):
        chat = Chat(engine)
        walk_threat_report(chat)
        chat.send("/back")
        chat.send(choice="yes")
        chat.send(choice="confirm")
    assert seen and set(seen) == {1}
    assert {name: flow.machine for name, flow in engine._machines.items()} == machines
    assert {name: len(m.models) for name, m in machines.items()} == baseline


def test_state_is_small(engine: Engine) -> None:
    chat = at_details(engine)
    chat.send(
        "They followed me home after the hearing and photographed my office door. "
        "Two cars without plates have been parked outside since Monday."
    )
    chat.send(attachment="3f9a1c2e-7b1d-4f5e-9c1a-0d2b3c4e5f60")
    chat.send(attachment="8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5f69")
    chat.send(choice="done")
    chat.send(choice="immediate")
    chat.send("Signal +380 00 000 0000, evenings only")
    size = len(json.dumps(chat.state, ensure_ascii=False).encode("utf-8"))
    assert size < 2048, size


def test_unreadable_state_still_honours_delete_and_duress(engine: Engine) -> None:
    broken = {
        "v": 1,
        "lang": "fr",
        "flow": "threat_report",
        "step": "gone",
        "answers": {"evidence": ["a1", 7]},
        "history": [],
        "pending": None,
    }
    outcome = engine.handle(broken, Answer(text="/delete"))
    assert outcome.effects == (DiscardDraft(("a1",)), Wipe(()))
    assert outcome.state == engine.new_state("fr")
    outcome = engine.handle(broken, Answer(text="blue lagoon"))
    assert outcome.effects == (DiscardDraft(("a1",)), Duress(()))


# -- conversation fixes ------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "fr", "es", "ar", "ru", "uk"])
def test_help_says_what_start_does(engine: Engine, catalog: Catalog, lang: str) -> None:
    """/start shows the welcome and continues the draft; /help says so (it once
    said "back to the start")."""
    chat = at_details(engine, lang)
    before = chat.state
    chat.send("/start")
    assert chat.state == before  # the draft continues at the same question
    assert chat.last and chat.last.prompts[0].text == catalog.text(lang, "engine.welcome")
    (line,) = [
        line for line in catalog.text(lang, "engine.help").splitlines() if line.startswith("/start")
    ]
    assert line != "/start – back to the start (your draft is kept)"
    if lang == "en":
        assert line == "/start – show the welcome again (a draft in progress continues where you stopped)"


@pytest.mark.parametrize("lang", ["en", "fr", "es", "ar", "ru", "uk"])
def test_the_files_step_names_the_button_it_shows(engine: Engine, lang: str) -> None:
    chat = at_details(engine, lang)
    chat.send("t")
    assert chat.step == "evidence"
    chat.send("here is my text")  # text where a file is expected
    (button,) = chat.last.prompts[-1].choices if chat.last else ()
    assert button.value == "skip"
    assert button.label in chat.last.prompts[0].text if chat.last else False
    chat.send(attachment="a1")
    chat.send("more text")
    (button,) = chat.last.prompts[-1].choices if chat.last else ()
    assert button.value == "done"
    assert button.label in chat.last.prompts[0].text if chat.last else False


def test_a_wrong_menu_answer_gets_a_short_reply(engine: Engine, catalog: Catalog) -> None:
    chat = Chat(engine)
    chat.send("hello")
    assert catalog.text("en", "engine.welcome") in chat.text
    outcome = chat.send("Please help me")
    assert [prompt.text for prompt in outcome.prompts] == [
        "That is not one of the options.",
        catalog.text("en", "engine.menu"),
    ]
    chat.send("/delete")  # the chat is wiped: the next message is a first contact again
    chat.send("hello")
    assert catalog.text("en", "engine.welcome") in chat.text


def test_change_one_answer_from_the_summary(engine: Engine) -> None:
    chat = Chat(engine)
    walk_threat_report(chat)
    chat.send(choice="edit")
    assert chat.state["pending"] == {"kind": "edit"}
    labels = {c.value: c.label for c in chat.last.prompts[-1].choices} if chat.last else {}
    assert labels["contact"] == "Safe contact: Signal, after 20:00"
    assert labels["country"] == "Country: Ukraine"
    assert list(labels)[-1] == "keep" and "consent_store" in labels
    chat.send(choice="contact")
    assert chat.step == "contact"
    assert "Your answer so far: Signal, after 20:00" in chat.text
    chat.send("Wire, mornings only")
    # straight back to the summary: the answers after it are not asked again
    assert chat.step == "confirm"
    assert "Safe contact: Wire, mornings only" in chat.text
    assert "Use of the case: Keep it confidential" in chat.text
    chat.send(choice="confirm")
    (submit,) = [e for e in chat.effects if isinstance(e, Submit)]
    assert submit.answers["contact"] == "Wire, mornings only"
    assert submit.answers["usage"] == "confidential"


def test_a_changed_answer_that_opens_a_question_asks_it(engine: Engine) -> None:
    chat = Chat(engine)
    walk_threat_report(chat)
    chat.send(choice="edit")
    chat.send(choice="when")
    chat.send(choice="today")  # when_date is no longer on the path
    assert chat.step == "confirm"
    assert "Date:" not in chat.text
    chat.send(choice="edit")
    chat.send(choice="when")
    chat.send(choice="earlier")  # opens when_date again: asked, with its old answer
    assert chat.step == "when_date"
    chat.send(choice="keep")
    assert chat.step == "confirm"


def test_change_nothing_and_back_close_the_list(engine: Engine) -> None:
    chat = Chat(engine)
    walk_threat_report(chat)
    before = chat.state
    chat.send(choice="edit")
    chat.send("Change nothing")
    assert chat.state == before
    chat.send(choice="edit")
    chat.send("/back")
    assert chat.state == before
    chat.send(choice="edit")
    chat.send("42")
    assert chat.state["pending"] == {"kind": "edit"}
    assert "Please choose one of the options" in chat.text


def test_the_arabic_summary_uses_the_arabic_comma(engine: Engine, catalog: Catalog) -> None:
    chat = Chat(engine, "ar")
    walk_threat_report(chat)
    intimidation = catalog.text("ar", "threat.types.intimidation")
    surveillance = catalog.text("ar", "threat.types.surveillance")
    assert f"{intimidation}، {surveillance}" in chat.text
    assert f"{intimidation}, " not in chat.text


def test_refusing_consent_to_a_request_stores_nothing(engine: Engine) -> None:
    chat = Chat(engine)
    chat.start("assistance_request")
    assert chat.step == "consent_store"
    outcome = chat.send("no")
    assert outcome.effects == (DiscardDraft(()),)
    assert chat.state == menu_state(engine, "en")
    assert not any(isinstance(effect, Submit) for effect in chat.effects)
