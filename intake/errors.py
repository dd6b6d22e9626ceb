"""The one exception tree of intake.

Every error intake raises on purpose derives from `IntakeError`, in one of two
branches, which the CLI maps to exit codes in one place (`intake.cli.main`)::

    IntakeError
    ├── Refused                  exit 1: understood, and declined (the message says why)
    │   ├── OfficerRefused           unknown or revoked officer, or another mission's case
    │   │   └── DuressRefused            the defender typed the duress word in that chat
    │   ├── CaseNotFound             no case with that reference
    │   ├── IllegalTransition        the case's state does not allow this step
    │   ├── ReasonRequired           closing or transferring a case needs a reason
    │   ├── LoginRefused             a web login failed (wrong factor, locked out, no enrolment)
    │   ├── NoKeyAtHand              the keys at hand do not open this record
    │   ├── WrongRecoveryKey         the file is not the active recovery key
    │   ├── RecoveryKeyExists        a recovery key is already active
    │   ├── RecoveryRotationRefused  a recovery rotation cannot start or resume
    │   ├── RetireRefused            a keyring version is still needed
    │   ├── PassphraseRefused        a new passphrase is too weak
    │   ├── NoReaders                no active officer would be left to open a mission's cases
    │   └── FileRejected             a defender's file is too large, of a refused type, or a
    │                                PDF that cannot be cleaned of its metadata
    └── SetupError               exit 3: the setup is missing or broken
        ├── ConfigError              the configuration cannot be used
        ├── DirectoryError           the missions file cannot be imported
        ├── RoutingError             no queue can take a submission
        ├── LeaseUnavailable         the database cannot be asked about a lease
        ├── UntrustedKey             a public key row does not verify under the keyring
        └── AuditBroken              the audit chain does not verify

Errors of the libraries below (`crypto.CryptoError`, SQLAlchemy's) are caught
where a sentence can be said about them and re-raised as one of these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

__all__ = [
    "AuditBroken",
    "CaseNotFound",
    "ConfigError",
    "DirectoryError",
    "DuressRefused",
    "FileRejected",
    "IllegalTransition",
    "IntakeError",
    "LeaseUnavailable",
    "LoginRefused",
    "NoKeyAtHand",
    "NoReaders",
    "OfficerRefused",
    "PassphraseRefused",
    "ReasonRequired",
    "RecoveryKeyExists",
    "RecoveryRotationRefused",
    "Refused",
    "RetireRefused",
    "RoutingError",
    "SetupError",
    "UntrustedKey",
    "WrongRecoveryKey",
]


class IntakeError(Exception):
    """Base of every error intake raises on purpose; `str()` is one sentence for a person."""


class Refused(IntakeError):
    """The request was understood and declined (CLI exit 1)."""


class SetupError(IntakeError):
    """The setup is missing or broken: keyring, database, configuration (CLI exit 3)."""


class OfficerRefused(Refused):
    """The officer cannot act: unknown, revoked, or the mission is wrong."""


class DuressRefused(OfficerRefused):
    """A reply to a chat where the defender typed the duress word: flagged, not sent.

    Attributes:
        reference: the case.
    """

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"case {reference}: the defender typed the duress word in that chat; nothing was"
            " sent and the case is flagged. Reach them another way."
        )
        self.reference = reference


class CaseNotFound(Refused):
    """No case has this reference (or it was purged)."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"no case with reference {reference}")
        self.reference = reference


class IllegalTransition(Refused):
    """The case's state does not allow this step; the message lists what does.

    `step` and `allowed` are what an officer types (`ack`, `status in_progress`,
    `reply`...: `intake.triage.workflow.COMMANDS`), never the workflow's own names.
    """

    def __init__(self, status: str, step: str, allowed: Sequence[str]) -> None:
        shown = ", ".join(f"`{word}`" for word in allowed) or "nothing"
        super().__init__(f"a case in state {status!r} does not allow `{step}` (it allows {shown})")
        self.status = status
        self.step = step


class ReasonRequired(Refused):
    """Closing (or transferring) a case needs a reason, kept sealed on the case."""

    def __init__(self, step: str) -> None:
        super().__init__(f"a reason is required to {step} a case")
        self.step = step


class LoginRefused(Refused):
    """A web console login did not go through; `retry_after` (seconds) while locked out.

    The message is the same whether the officer id, the passphrase or the second
    factor was wrong, so that a guesser learns nothing about which.
    """

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NoKeyAtHand(Refused):
    """The keys at hand cannot open this record (not a member, revoked, or no seal)."""


class WrongRecoveryKey(Refused):
    """The recovery key file given is not the active recovery key.

    Attributes:
        given: the key id of the file.
        active: the key id registered as active (None: there is none).
    """

    def __init__(self, given: str, active: str | None) -> None:
        self.given = given
        self.active = active
        super().__init__(
            f"the recovery key file holds key {given}, but the active recovery key is {active}"
        )


class RecoveryKeyExists(Refused):
    """There is already an active recovery key (rotating it is a separate operation)."""


class RecoveryRotationRefused(Refused):
    """The recovery key file given cannot start or resume a rotation (the message says why)."""


class RetireRefused(Refused):
    """A keyring version cannot be retired yet.

    Attributes:
        kind: "kek" or "pseudonym".
        version: the version asked for.
        needed_by: table -> records that still need it (empty when the reason is another).
        reason: a sentence saying why and what to do.
    """

    def __init__(self, kind: str, version: int, needed_by: dict[str, int], reason: str) -> None:
        self.kind = kind
        self.version = version
        self.needed_by = needed_by
        self.reason = reason
        super().__init__(f"{kind} version {version} cannot be retired: {reason}")


class PassphraseRefused(Refused):
    """A new passphrase does not meet the policy (the message says what is needed)."""


class NoReaders(Refused):
    """The step would leave a mission's cases with no active officer able to open them.

    Attributes:
        mission: the mission's id.
        fix: what to do instead, or the flag that goes ahead anyway.
    """

    def __init__(self, mission: str, what: str, fix: str) -> None:
        super().__init__(f"{what}; {fix}")
        self.mission = mission
        self.fix = fix


class FileRejected(Refused):
    """The file cannot be accepted; `reason` picks the message the defender gets."""

    def __init__(
        self, reason: Literal["too_large", "type_not_allowed", "pdf_not_cleanable"]
    ) -> None:
        super().__init__(f"file rejected: {reason}")
        self.reason = reason


class ConfigError(SetupError):
    """The configuration cannot be used; the message names the setting."""


class DirectoryError(SetupError):
    """The missions file cannot be imported; the message says where and why."""


class RoutingError(SetupError):
    """No queue can take this submission (no rule, no mission, no fallback)."""


class LeaseUnavailable(SetupError):
    """The database could not be asked about lease `name` (unreachable, failing)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"lease {name}: the database failed ({reason})")
        self.name = name
        self.reason = reason


class UntrustedKey(SetupError):
    """A public key the database offers does not verify under the keyring: nothing is sealed to it.

    Either the database was written by someone without the keyring (a forged
    key), or the rows predate the key directory (`hrd-intake keys authenticate`).

    Attributes:
        kind: "mission", "officer" or "recovery".
        owner: the mission id, officer id or recovery key id (no defender's identity).
        version: the mission key version (0 for officers and the recovery key).
        reason: a sentence.
    """

    def __init__(self, kind: str, owner: str, version: int, reason: str) -> None:
        self.kind = kind
        self.owner = owner
        self.version = version
        self.reason = reason
        shown = f"{kind} key {owner}" + (f" v{version}" if version else "")
        super().__init__(f"untrusted {shown}: {reason}")


class AuditBroken(SetupError):
    """The chain does not verify; `seq` names the first bad entry (0: the log as a whole)."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"audit entry {seq}: {reason}" if seq else reason)
        self.seq = seq
        self.reason = reason
