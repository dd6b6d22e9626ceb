"""Whatever a defender sends, at whatever step: a re-prompt or data, never a crash."""

from __future__ import annotations

import pytest

from flows import Answer, Catalog, DiscardDraft, Engine
from tests.flows.chat import Chat, menu_state

# The threat report reaches every kind of step; the answers that lead to each.
ROUTE = [
    ("consent_store", {"choice": "yes"}),
    ("country", {"text": "Ukraine"}),
    ("at_risk", {"choice": "me"}),
    ("threat_types", {"text": "1 2"}),
    ("when", {"choice": "earlier"}),
    ("when_date", {"text": "2026-01-02"}),
    ("details", {"text": "What happened."}),
    ("evidence", {"choice": "skip"}),
    ("urgency", {"choice": "days"}),
    ("contact", {"text": "Signal"}),
    ("usage", {"choice": "confidential"}),
    ("share_un", {"choice": "no"}),
]
KIND_STEPS = {
    "yesno": "consent_store",
    "country": "country",
    "choice": "at_risk",
    "multi": "threat_types",
    "date": "when_date",
    "text": "details",
    "files": "evidence",
    "confirm": "confirm",
}
BAD = {
    "empty": "",
    "blank": "   \n ",
    "one megabyte": "A" * 1_000_000,
    "binary-looking": b"\x00\xff".decode("latin-1"),
    "control": "abc\x07\x1b[2Jdef",
    "rtl override": "invoice\u202egnp.exe",
    "lone surrogate": "\ud83d",
    "zero-width in a word": "Ukr\u200baine",
    "sql": "Robert'); DROP TABLE cases;--",
    "html": "<script>alert('x')</script>",
    "format string": "{reference}{0}%s%n",
    "json": '{"v": 1, "step": "confirm"}',
    "unknown choice value": "__proto__",
}
# What a text step accepts as it is (everything else is refused there too).
TEXT_ACCEPTS = {
    "zero-width in a word",
    "sql",
    "html",
    "format string",
    "json",
    "unknown choice value",
}
# Country names are compared loosely: an invisible zero-width space does not matter.
COUNTRY_ACCEPTS = {"zero-width in a word"}
# Typed text that names no place is kept aside (not as an answer) so that the
# defender can say "my country is not listed" without typing it again.
COUNTRY_KEEPS_ASIDE = TEXT_ACCEPTS - COUNTRY_ACCEPTS


def chat_at(engine: Engine, step: str) -> Chat:
    chat = Chat(engine)
    chat.start("threat_report")
    for step_id, answer in ROUTE:
        if chat.step == step:
            break
        assert chat.step == step_id
        chat.send(**answer)
    assert chat.step == step
    return chat


@pytest.mark.parametrize("kind", sorted(KIND_STEPS))
@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("as_choice", [False, True], ids=["typed", "pressed"])
def test_bad_input_at_every_kind_of_step(
    engine: Engine, kind: str, case: str, as_choice: bool
) -> None:
    chat = chat_at(engine, KIND_STEPS[kind])
    before = chat.state
    text = BAD[case]
    outcome = chat.send(choice=text) if as_choice else chat.send(text)
    assert outcome.prompts, "always says something"
    accepted = chat.state != before
    if kind == "text" and case in TEXT_ACCEPTS and not as_choice:
        assert accepted
        assert chat.state["answers"]["details"] == text.strip()  # kept exactly, as data
    elif kind == "country" and case in COUNTRY_ACCEPTS:
        assert chat.state["answers"]["country"] == "UA"
    elif kind == "country" and case in COUNTRY_KEEPS_ASIDE and not as_choice:
        assert chat.state["answers"] == before["answers"]
        assert chat.state["pending"]["place"] == text.strip()
        assert outcome.effects == ()
        assert "could not find that place" in chat.text
        assert outcome.prompts[-1].choices[-1].value == "unlisted"
    else:
        assert not accepted, f"{case} accepted at {kind}"
        assert outcome.effects == ()
        # the reason, then the same question again
        assert len(outcome.prompts) >= 2
        assert outcome.prompts[-1] == engine.current_prompt(before)


def test_the_reasons_are_specific(engine: Engine) -> None:
    chat = chat_at(engine, "details")
    chat.send("")
    assert chat.text.startswith("Please type an answer.")
    chat.send("x" * 4001)
    assert chat.text.startswith("That text is too long: 4,001 characters, and the limit is 4,000.")
    chat.send("A" * 1_000_000)
    assert chat.text.startswith("That message is too large")
    chat.send("a\u202eb")
    assert chat.text.startswith("Your text contains hidden control or direction characters")
    chat.send(choice="yes")
    assert chat.text.startswith("Please type your answer as a message.")
    fr = chat_at(engine, "contact")
    fr.send("/language")
    fr.send("fr")
    fr.send("x" * 501)
    assert fr.text.startswith("Ce texte est trop long : 501 caractères, pour une limite de 500.")


def test_dates_at_the_date_step(engine: Engine) -> None:
    chat = chat_at(engine, "when_date")
    before = chat.state
    for bad, reason in (
        ("yesterday", "does not look like a date"),
        ("2026-02-30", "does not look like a date"),
        ("2026-06-16", "in the future"),
    ):
        chat.send(bad)
        assert chat.state == before
        assert reason in chat.text
    chat.send("٠٢/٠١/٢٠٢٦")
    assert chat.state["answers"]["when_date"] == "2026-01-02"


@pytest.mark.parametrize(
    ("lang", "typed"),
    [
        ("en", "ukraine"),
        ("fr", "Ukraine"),
        ("es", "Ucrania"),
        ("ar", "أوكرانيا"),
        ("ru", "Украина"),
    ],
)
def test_country_in_every_language(engine: Engine, lang: str, typed: str) -> None:
    chat = Chat(engine, lang)
    chat.start("threat_report")
    chat.send(choice="yes")
    chat.send(typed)
    assert chat.state["answers"]["country"] == "UA"
    assert chat.step == "at_risk"


@pytest.mark.parametrize(
    ("lang", "typed", "pick", "code"),
    [
        ("en", "congo", "1", "CD"),
        ("fr", "Congo", "Congo-Brazzaville", "CG"),
        ("ru", "Конго", "CG", "CG"),
        ("ar", "الكونغو", "2", "CG"),
        ("en", "guin", "Guinea-Bissau", "GW"),
    ],
)
def test_ambiguous_country_then_pick(
    engine: Engine, lang: str, typed: str, pick: str, code: str
) -> None:
    chat = Chat(engine, lang)
    chat.start("threat_report")
    chat.send(choice="yes")
    chat.send(typed)
    assert chat.step == "country"
    assert code in chat.choices and len(chat.choices) >= 2
    assert chat.state["pending"]["kind"] == "country"
    before = chat.state
    chat.send("99")
    assert chat.state == before
    if pick == code:
        chat.send(choice=pick)  # the button's value
    else:
        chat.send(pick)  # typed: its number or its name
    assert chat.state["answers"]["country"] == code
    assert chat.state["pending"] is None


def test_ambiguous_country_then_type_another(engine: Engine) -> None:
    chat = chat_at(engine, "country")
    chat.send("congo")
    chat.send("Uganda")
    assert chat.state["answers"]["country"] == "UG"
    chat = chat_at(engine, "country")
    chat.send("congo")
    chat.send("/back")  # closes the list, stays at the question
    assert chat.step == "country" and chat.state["pending"] is None
    chat.send("Atlantis")
    assert "could not find that place" in chat.text


def test_multi_one_at_a_time(engine: Engine) -> None:
    chat = chat_at(engine, "threat_types")
    chat.send(choice="done")
    assert "at least one" in chat.text
    chat.send(choice="harassment")
    chat.send("3")
    chat.send("Harassment")  # pressed again: unselected
    assert chat.state["pending"] == {"kind": "multi", "selected": ["physical_violence"]}
    assert "Selected: Physical violence" in chat.text
    chat.send("/help")
    assert chat.state["pending"] == {"kind": "multi", "selected": ["physical_violence"]}
    chat.send("Done")
    assert chat.state["answers"]["threat_types"] == ["physical_violence"]
    chat.send("/back")
    assert chat.step == "threat_types"
    assert "Selected: Physical violence" in chat.text
    chat.send(choice="done")
    assert chat.step == "when"


def test_files(engine: Engine) -> None:
    chat = chat_at(engine, "evidence")
    chat.send("here is my text")
    assert "Please send a file" in chat.text
    chat.send(attachment="f1")
    chat.send(attachment="f1")  # the same file twice is kept once
    assert chat.state["answers"]["evidence"] == ["f1"]
    for n in range(2, 11):
        chat.send(attachment=f"f{n}")
    outcome = chat.send(attachment="f11")
    assert outcome.effects == (DiscardDraft(("f11",)),)
    assert len(chat.state["answers"]["evidence"]) == 10
    outcome = chat.send(attachment="f12", text="a caption")
    assert outcome.effects == (DiscardDraft(("f12",)),)
    chat.send(choice="done")
    assert chat.step == "urgency"


def test_caption_is_not_silently_dropped(engine: Engine) -> None:
    chat = chat_at(engine, "evidence")
    chat.send(attachment="f1", text="photo of the car")
    assert "not the text sent with it" in chat.text
    assert chat.state["answers"]["evidence"] == ["f1"]


@pytest.mark.parametrize("step", ["consent_store", "details", "confirm"])
def test_a_file_where_none_is_expected_is_handed_back(engine: Engine, step: str) -> None:
    chat = chat_at(engine, step)
    before = chat.state
    outcome = chat.send(attachment="stray")
    assert outcome.effects == (DiscardDraft(("stray",)),)
    assert chat.state == before
    idle = Chat(engine)
    assert idle.send(attachment="x").effects == (DiscardDraft(("x",)),)


@pytest.mark.parametrize("attachment", ["", " ", "a\x00b", "x" * 201])
def test_odd_attachment_ids_are_refused(engine: Engine, attachment: str) -> None:
    chat = chat_at(engine, "evidence")
    outcome = chat.send(attachment=attachment)
    assert outcome.effects == ((DiscardDraft((attachment,)),) if attachment else ())
    assert "evidence" not in chat.state["answers"]


def test_idle_first_text_shows_welcome_then_a_short_reply(
    engine: Engine, catalog: Catalog
) -> None:
    chat = Chat(engine, "ar")
    outcome = chat.send("hello")
    assert outcome.prompts[0].text == catalog.text("ar", "engine.welcome")
    for text in ("", "hello", "\x00", "A" * 1_000_000, "<b>hi</b>", "9"):
        outcome = chat.send(text)
        assert chat.state == menu_state(engine, "ar")
        assert outcome.prompts[-1].choices[-1].value == "language"
        # not the whole welcome again: a short "not an option", then the menu
        assert catalog.text("ar", "engine.welcome") not in chat.text
        assert outcome.prompts[-1].text == catalog.text("ar", "engine.menu")
    assert chat.text.startswith(catalog.text("ar", "invalid.not_an_option"))
    chat.send("1")
    assert chat.state["flow"] == "threat_report"


def test_never_raises_on_empty_answer(engine: Engine) -> None:
    chat = chat_at(engine, "threat_types")
    outcome = engine.handle(chat.state, Answer())
    assert outcome.state == chat.state
