"""The safety check-in flow: secret steps are never shown back and must differ."""

from __future__ import annotations

import pytest

from flows import Engine, Submit
from tests.flows.chat import Chat


def _to_word_steps(chat: Chat) -> None:
    chat.start("safety_checkin")
    chat.send(choice="yes")
    chat.send("Court hearing in Nairobi, 10:00")
    chat.send("My lawyer, +254 700 000 000")
    chat.send("Kenya")
    chat.send(choice="interval")
    chat.send(choice="h2")
    chat.send(choice="confidential")
    assert chat.step == "checkin_word"


def test_words_never_appear_in_the_summary_or_when_asked_again(engine: Engine) -> None:
    chat = Chat(engine)
    _to_word_steps(chat)
    chat.send("Sunflower")
    assert chat.step == "duress_word"
    chat.send("/back")
    assert chat.step == "checkin_word"
    assert "Sunflower" not in chat.text and "keep" in chat.choices
    chat.send(choice="keep")
    chat.send("Thunder")
    assert chat.step == "confirm"
    assert "Sunflower" not in chat.text and "Thunder" not in chat.text
    assert "Court hearing" in chat.text
    chat.send(choice="edit")
    assert all("Sunflower" not in c and "Thunder" not in c for c in chat.choices)
    assert "checkin_word" not in chat.choices and "duress_word" not in chat.choices
    chat.send(choice="keep")
    chat.send(choice="confirm")
    [submit] = [e for e in chat.effects if isinstance(e, Submit)]
    assert submit.flow == "safety_checkin" and submit.routing.kind == "missed_checkin"
    assert submit.answers["checkin_word"] == "Sunflower"
    assert submit.answers["duress_word"] == "Thunder"
    assert submit.routing.country == "KE"


@pytest.mark.parametrize(("word", "reason"), [("abc", "at least 4"), ("  SUNflower ", "different")])
def test_short_or_equal_words_are_refused(engine: Engine, word: str, reason: str) -> None:
    chat = Chat(engine)
    _to_word_steps(chat)
    chat.send("sunflower")
    chat.send(word)
    assert chat.step == "duress_word"
    assert reason in chat.text


def test_a_deadline_instead_of_an_interval(engine: Engine) -> None:
    chat = Chat(engine)
    chat.start("safety_checkin")
    chat.send(choice="yes")
    chat.send("Crossing the border")
    chat.send("My sister")
    chat.send("Ukraine")
    chat.send(choice="deadline")
    assert chat.step == "within"
    chat.send(choice="h6")
    assert chat.step == "usage"
    chat.send(choice="private_authorities")
    assert chat.step == "checkin_word"
