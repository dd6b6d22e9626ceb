"""The console channel: talk to the bot in a terminal.

Reads stdin line by line, so it can be scripted (`printf '...' | hrd-intake
chat`). Choices are printed numbered; a number answers with that choice,
anything else is sent as text. End of input ends the conversation (the
draft stays saved and resumes next time).
"""

from __future__ import annotations

import secrets
from typing import TextIO

from bots.core import Core
from intake.messages import Inbound, Outbound, Reply, WipeChat

CHANNEL = "console"


class ConsoleChannel:
    """Drives one conversation between a terminal and the service.

    Args:
        service: the conversation service.
        reader: where the defender's lines come from.
        writer: where the bot's replies go.
        sender: who is talking (pseudonymised by the core like any platform id).
    """

    def __init__(
        self,
        service: Core,
        reader: TextIO,
        writer: TextIO,
        sender: str = "console",
    ) -> None:
        self._service = service
        self._reader = reader
        self._writer = writer
        self._sender = sender
        self._choices: dict[str, str] = {}

    def run(self) -> None:
        self._send(text="/start")
        for line in self._reader:
            self._send_line(line.rstrip("\r\n"))
        self._deliver()

    def _send_line(self, line: str) -> None:
        choice = self._choices.get(line.strip())
        if choice is not None:
            self._send(choice=choice)
        else:
            self._send(text=line)

    def _send(self, text: str | None = None, choice: str | None = None) -> None:
        message = Inbound(
            channel=CHANNEL,
            sender=self._sender,
            chat=self._sender,
            # A console line has no platform id: a random one makes each line unique.
            message_id=secrets.token_hex(16),
            text=text,
            choice=choice,
        )
        for outbound in self._service.handle(message):
            self._render(outbound)
        self._deliver()
        self._writer.flush()

    def _deliver(self) -> None:
        """Show what officers sent to this terminal's defender (other chats' stay queued)."""
        others = []
        for delivery in self._service.claim_deliveries(CHANNEL):
            if delivery.chat != self._sender:
                others.append(delivery)
                continue
            self._render_reply(Reply(text=delivery.text))
            self._service.delivered(delivery)
        self._service.release(others)

    def _render(self, outbound: Outbound) -> None:
        if isinstance(outbound, WipeChat):
            self._writer.write("\n--- (the chat would be wiped here on a messaging app) ---\n")
            return
        self._render_reply(outbound)

    def _render_reply(self, reply: Reply) -> None:
        self._writer.write(f"\n{reply.text}\n")
        self._choices = {}
        for number, choice in enumerate(reply.choices, start=1):
            self._choices[str(number)] = choice.value
            self._writer.write(f"  {number}. {choice.label}\n")
        if reply.multi:
            self._writer.write("  (several allowed: numbers separated by commas)\n")
        self._writer.write("> ")
