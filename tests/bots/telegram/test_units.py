"""The Telegram channel's pure parts: reading updates, splitting, buttons, retries."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bots.telegram.render import callback_data, keyboard, read_callback_data, split_text
from bots.telegram.retry import Backoff, call, retry_after_seconds
from bots.telegram.updates import Route, read_raw, read_update
from intake.messages import Choice

USER = {"id": 77, "is_bot": False, "first_name": "D", "language_code": "fr-FR"}
PRIVATE = {"id": 77, "type": "private", "first_name": "D"}


def update(**fields: Any) -> Update:
    return Update.de_json({"update_id": 500, **fields}, None)


def message(**fields: Any) -> dict[str, Any]:
    return {"message_id": 9, "date": 1, "chat": PRIVATE, "from": USER, **fields}


# -- reading updates ------------------------------------------------------------


def test_text_becomes_an_inbound_message_keyed_by_chat_and_message() -> None:
    incoming = read_update(update(message=message(text="Hello")))
    assert incoming.route is Route.CORE
    inbound = incoming.inbound()
    assert (inbound.sender, inbound.chat, inbound.text) == ("77", "77", "Hello")
    assert (inbound.message_id, inbound.trace_id, inbound.language) == ("msg:77:9", "9", "fr-FR")
    assert "Hello" not in repr(incoming) and "77" not in repr(inbound)


def test_a_deep_link_payload_is_dropped() -> None:
    assert read_update(update(message=message(text="/start campaign42"))).text == "/start"
    assert read_update(update(message=message(text="/starting"))).text == "/starting"


@pytest.mark.parametrize(
    "fields",
    [
        {
            "sticker": {
                "file_id": "s",
                "file_unique_id": "u",
                "type": "regular",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
            }
        },
        {"voice": {"file_id": "v", "file_unique_id": "u", "duration": 1}},
        {"dice": {"emoji": "🎲", "value": 3}},
    ],
)
def test_what_the_core_cannot_read_is_marked_unsupported(fields: dict[str, Any]) -> None:
    incoming = read_update(update(message=message(**fields)))
    assert (incoming.route, incoming.unsupported, incoming.delete_now) == (
        Route.CORE,
        "unsupported",
        None,
    )


def test_what_the_library_cannot_parse_is_still_read_by_hand() -> None:
    # PTB 22.8 requires a field this poll lacks: it would fail the whole getUpdates.
    poll = {
        "id": "p",
        "question": "?",
        "options": [],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
    }
    raw = {"update_id": 7, "message": message(poll=poll)}
    with pytest.raises(TypeError):
        Update.de_json(raw, None)
    incoming = read_raw(raw)
    assert (incoming.route, incoming.unsupported, incoming.key) == (
        Route.CORE,
        "unsupported",
        "msg:77:9",
    )
    with_text = read_raw({"update_id": 8, "message": message(poll=poll, text="/start x")})
    assert (with_text.text, with_text.trace_id, with_text.language) == ("/start", 9, "fr-FR")
    group = {"id": -5, "type": "group", "title": "G"}
    assert (
        read_raw({"update_id": 9, "message": message(poll=poll, chat=group)}).route is Route.GROUP
    )
    press = {"id": "q", "from": USER, "chat_instance": "c", "data": "yes", "message": poll}
    assert read_raw({"update_id": 10, "callback_query": press}).choice == "yes"
    assert read_raw({"update_id": 11, "unknown_kind": {}}).route is Route.IGNORE
    assert read_raw({"no": "update id"}).route is Route.IGNORE


def test_a_shared_contact_is_never_read_and_leaves_the_chat() -> None:
    contact = {"phone_number": "+254700000009", "first_name": "X"}
    incoming = read_update(update(message=message(contact=contact)))
    assert incoming.unsupported == "unsupported" and incoming.delete_now == 9
    assert incoming.text is None and "254700000009" not in repr(incoming.inbound())


def test_an_edit_is_told_with_its_own_key_and_no_trace() -> None:
    incoming = read_update(update(edited_message=message(text="changed", edit_date=5)))
    assert (incoming.unsupported, incoming.key, incoming.trace_id) == (
        "edited",
        "edit:77:9:5",
        None,
    )


def test_the_largest_photo_and_documents_are_files() -> None:
    small = {"file_id": "a", "file_unique_id": "a", "width": 90, "height": 90, "file_size": 10}
    large = {"file_id": "b", "file_unique_id": "b", "width": 800, "height": 600, "file_size": 9}
    photo = read_update(update(message=message(photo=[large, small], caption="c")))
    assert photo.file is not None and photo.file.file_id == "b" and photo.delete_now == 9
    document = {
        "file_id": "d",
        "file_unique_id": "d",
        "mime_type": "application/pdf",
        "file_name": "r.pdf",
        "file_size": 3,
    }
    doc = read_update(update(message=message(document=document)))
    assert doc.file is not None and (doc.file.media_type, doc.file.size) == ("application/pdf", 3)
    gif = read_update(
        update(
            message=message(
                animation=document | {"width": 1, "height": 1, "duration": 1}, document=document
            )
        )
    )
    assert gif.file is None and gif.unsupported == "unsupported"


def test_groups_and_channels_are_routed_to_a_refusal() -> None:
    group = {"id": -5, "type": "supergroup", "title": "G"}
    assert read_update(update(message=message(chat=group, text="hi"))).route is Route.GROUP
    post = {"message_id": 1, "date": 1, "chat": {"id": -6, "type": "channel", "title": "C"}}
    assert read_update(update(channel_post=post)).route is Route.GROUP
    assert read_update(update(my_chat_member=None)).route is Route.IGNORE


def test_a_button_press_answers_in_the_presser_s_own_chat() -> None:
    query = {
        "id": "q1",
        "from": USER,
        "chat_instance": "c",
        "data": "yes",
        "message": message(chat={"id": 99, "type": "private", "first_name": "O"}),
    }
    incoming = read_update(update(callback_query=query))
    assert (incoming.route, incoming.choice, incoming.chat_id) == (Route.CORE, "yes", 77)
    assert incoming.key == "cb:q1" and incoming.pressed_message is None
    own = read_update(update(callback_query=query | {"message": message()}))
    assert own.pressed_message == 9
    game = read_update(update(callback_query={k: v for k, v in query.items() if k != "data"}))
    assert game.route is Route.IGNORE and game.callback_id == "q1"


# -- rendering ------------------------------------------------------------------


def test_long_texts_are_split_at_paragraphs_within_telegram_s_limit() -> None:
    text = "\n\n".join(f"paragraph {n} " + "word " * 150 for n in range(12))
    pieces = split_text(text)
    assert len(pieces) > 1
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in pieces)
    assert all(p.startswith("paragraph") for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )


def test_splitting_counts_utf16_and_never_cuts_a_character() -> None:
    text = "🙂" * 5000  # two UTF-16 units each, no separators
    pieces = split_text(text, limit=4096)
    assert [len(p) for p in pieces] == [2048, 2048, 904]
    assert split_text("") == [] and split_text("short") == ["short"]


def test_buttons_carry_values_or_their_number_when_too_long() -> None:
    assert callback_data(Choice("yes", "Yes"), 1) == "yes"
    assert callback_data(Choice("é" * 40, "Long"), 3) == "3"  # 80 bytes > 64
    # Bound to the question: "<tag>|<value>", still within Telegram's 64 bytes.
    assert callback_data(Choice("yes", "Yes"), 1, "ab12.c0ffee00") == "ab12.c0ffee00|yes"
    assert callback_data(Choice("x" * 55, "Long"), 2, "ab12.c0ffee00") == "ab12.c0ffee00|2"
    assert read_callback_data("ab12.c0ffee00|yes") == ("ab12.c0ffee00", "yes")
    assert read_callback_data("yes") == ("", "yes")  # a button from before tags
    markup = keyboard([Choice("a", "A"), Choice("b", "B")])
    assert markup is not None
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [["a"], ["b"]]
    assert keyboard([]) is None


# -- retries --------------------------------------------------------------------


def run_call(failures: list[Exception], attempts: int = 4) -> tuple[Any, list[float], int]:
    slept: list[float] = []
    tries = [0]

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def op() -> str:
        tries[0] += 1
        if failures:
            raise failures.pop(0)
        return "ok"

    async def main() -> Any:
        return await call(op, what="sendMessage", attempts=attempts, backoff=Backoff(), sleep=sleep)

    return asyncio.run(main()), slept, tries[0]


def test_retry_after_is_honoured_as_int_or_timedelta() -> None:
    result, slept, tries = run_call([RetryAfter(3), RetryAfter(timedelta(seconds=2))])
    assert (result, tries) == ("ok", 3)
    assert 3 <= slept[0] < 3.3 and 2 <= slept[1] < 2.3
    assert retry_after_seconds(RetryAfter(timedelta(seconds=7))) == 7


def test_network_errors_back_off_exponentially_then_give_up() -> None:
    result, slept, tries = run_call([NetworkError("502"), TimedOut()])
    assert (result, tries) == ("ok", 3)
    assert 0.25 <= slept[0] <= 0.5 and 0.5 <= slept[1] <= 1.0
    with pytest.raises(NetworkError):
        run_call([NetworkError("502")] * 4, attempts=4)


@pytest.mark.parametrize("error", [BadRequest("message is too long"), Forbidden("blocked")])
def test_what_cannot_succeed_is_not_retried(error: Exception) -> None:
    with pytest.raises(type(error)):
        run_call([error])
