"""A defender talking to the conversation service through neutral messages."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from intake.core.service import ConversationService
from intake.messages import Attachment, Inbound, Outbound, Reply, WipeChat

_ids = itertools.count(1)


@dataclass
class Defender:
    service: ConversationService
    sender: str = "defender-1"
    channel: str = "console"
    chat: str = "chat-1"
    language: str | None = None
    last: list[Outbound] = field(default_factory=list)
    sent_ids: list[str] = field(default_factory=list)

    def send(
        self,
        text: str | None = None,
        *,
        choice: str | None = None,
        attachment: Attachment | None = None,
        message_id: str | None = None,
    ) -> list[Outbound]:
        message_id = message_id or f"m{next(_ids)}"
        self.sent_ids.append(message_id)
        self.last = self.service.handle(
            Inbound(
                channel=self.channel,
                sender=self.sender,
                chat=self.chat,
                message_id=message_id,
                text=text,
                choice=choice,
                attachment=attachment,
                language=self.language,
                trace_id=f"trace-{message_id}",
            )
        )
        return self.last

    @property
    def replies(self) -> list[Reply]:
        return [r for r in self.last if isinstance(r, Reply)]

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.replies)

    @property
    def choices(self) -> list[str]:
        return [c.value for r in self.replies for c in r.choices]

    @property
    def wiped(self) -> bool:
        return any(isinstance(r, WipeChat) for r in self.last)

    def choose(self, value: str) -> list[Outbound]:
        """Press the button `value`; it must be on offer."""
        assert value in self.choices, f"{value!r} not offered; choices: {self.choices}"
        return self.send(choice=value)

    def reference(self) -> str:
        for reply in self.replies:
            for word in reply.text.replace(".", " ").split():
                if word.startswith("HRD-"):
                    return word
        raise AssertionError(f"no case reference in: {self.text}")


# Each step: ("choose", value) presses a button, ("say", text) types.
def threat_report(
    country: str = "Kenya", details: str = "They followed me home."
) -> list[tuple[str, str]]:
    return [
        ("choose", "threat_report"),
        ("choose", "yes"),
        ("say", country),
        ("choose", "me"),
        ("say", "1, 2"),
        ("choose", "ongoing"),
        ("say", details),
        ("choose", "skip"),
        ("choose", "immediate"),
        ("say", "Signal, evenings"),
        ("choose", "confidential"),
        ("choose", "yes"),
        ("choose", "confirm"),
    ]


def assistance_request(country: str = "Ukraine") -> list[tuple[str, str]]:
    return [
        ("choose", "assistance_request"),
        ("choose", "yes"),  # consent
        ("choose", "trial_monitoring"),
        ("say", "Pechersk District Court"),
        ("say", "Kyiv"),
        ("say", "2027-01-15"),
        ("say", country),
        ("choose", "days"),
        ("say", "Email via the lawyer"),
        ("choose", "confidential"),
        ("choose", "no"),
        ("choose", "confirm"),
    ]


def numbered_threat_report(details: str = "They followed me.", contact: str = "Signal") -> list[str]:
    """A threat report from Kenya answered by number, one message a line (console, Signal).

    Every choice is the first one offered, so the answers are those of
    `threat_report`, with `details` and `contact` as the typed texts.
    """
    return [
        "1",  # the flow: threat_report
        "1",  # consent_store: yes
        "Kenya",  # country
        "1",  # at_risk: me
        "1,2",  # threat_types: intimidation, harassment
        "1",  # when: ongoing
        details,
        "1",  # evidence: skip
        "1",  # urgency: immediate
        contact,
        "1",  # usage: confidential
        "1",  # share_un: yes
        "1",  # confirm
    ]


def console_threat_report(details: str = "They followed me.", contact: str = "Signal") -> str:
    """`numbered_threat_report` as typed into the console channel (`hrd-intake chat`)."""
    return "".join(f"{line}\n" for line in numbered_threat_report(details, contact))


def play(defender: Defender, script: list[tuple[str, str]]) -> None:
    for action, value in script:
        if action == "choose":
            defender.choose(value)
        else:
            defender.send(value)
