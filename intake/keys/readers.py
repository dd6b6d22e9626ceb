"""Who can read a mission's cases, and which missions hold cases nobody can read.

A case's data key is sealed to its mission's current key (and to the
recovery key); the mission's private key is sealed to each member officer.
So a mission's cases are readable by an officer only while at least one
active officer holds a copy of the mission's latest key. Without one (cases
submitted before the mission had an officer, transferred to a mission without
officers, or left behind when its only officer was revoked) only security
staff with the offline recovery key can open them: the cases wait unseen.

Reads metadata only (counts and seal rows), never a record.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from intake.keys.holders import mission_key_record
from intake.references import MissionId
from intake.storage.counts import unreadable_queues
from intake.storage.mission_keys import latest_mission_key
from intake.storage.missions import missions_by_id
from intake.storage.seals import officers_holding_mission_keys

__all__ = [
    "UnreadableMission",
    "mission_readers",
    "missions_without_officers",
    "unreadable_missions",
]


@dataclass(frozen=True)
class UnreadableMission:
    """A mission holding `cases` cases that no active officer can open.

    Attributes:
        mission: the mission's id.
        cases: how many cases it holds (any state: closed cases are kept until purged).
        has_key: whether the mission has a key yet (without, cases are sealed to the
            recovery key only and must be re-sealed once an officer is enrolled).
    """

    mission: MissionId
    cases: int
    has_key: bool

    @property
    def fix(self) -> str:
        """The commands that make the cases readable again."""
        add = f"hrd-intake officers add --mission {self.mission} --name NAME --recovery-key FILE"
        if self.has_key:
            return add
        return f"{add}, then hrd-intake keys mission reseal {self.mission} --recovery-key FILE"

    def sentence(self) -> str:
        return f"{self.mission} holds {self.cases} case(s) no active officer can open: {self.fix}"


def mission_readers(session: Session, mission_id: str) -> set[str]:
    """Active officers holding a copy of the mission's latest key (who can open new cases)."""
    latest = latest_mission_key(session, mission_id)
    if latest is None:
        return set()
    held = officers_holding_mission_keys(session)
    return held.get(mission_key_record(mission_id, latest.version), set())


def unreadable_missions(session: Session) -> list[UnreadableMission]:
    """Missions holding cases without an active officer able to open them, by id."""
    return [
        UnreadableMission(MissionId(queue.mission_id), queue.cases, queue.has_key)
        for queue in unreadable_queues(session)
    ]


def missions_without_officers(session: Session) -> list[MissionId]:
    """Missions in the directory where no active officer could open a case yet, by id.

    Cases routed there are sealed, but wait unseen until an officer is enrolled.
    """
    return [MissionId(m.id) for m in missions_by_id(session) if not mission_readers(session, m.id)]
