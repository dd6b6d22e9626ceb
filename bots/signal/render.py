"""Rendering the core's replies as Signal text: Signal has no buttons, so choices are numbered.

    1. Report a threat
    2. Ask for assistance

The numbers are the engine's own (`flows.answers` reads "2", or "1, 3" for
several, as the second or the first and third choice of the question being
asked), so the channel keeps no map from numbers to choices: after a restart
a number still means what the defender saw.
"""

from __future__ import annotations

from collections.abc import Callable

from intake.messages import Reply

__all__ = ["render_reply"]


def render_reply(reply: Reply, notice: Callable[[str], str]) -> str:
    """The text of one reply; `notice(key)` gives a catalog notice in the defender's language."""
    if not reply.choices:
        return reply.text
    lines = [reply.text, ""]
    lines += [f"{number}. {choice.label}" for number, choice in enumerate(reply.choices, 1)]
    lines += ["", notice("signal_pick_many" if reply.multi else "signal_pick_one")]
    return "\n".join(lines)
