"""Keyed pseudonyms: look platform identities up without storing them.

pseudonym = hex(HMAC-SHA256(pseudonym key, length-prefixed label, namespace, value)).
The namespace (for example "telegram-user") keeps equal values of different
kinds apart. Without the key a pseudonym cannot be reversed or recomputed from
a guessed identity. Callers normalise values (case, Unicode form) before
calling: "Alice" and "alice" give different pseudonyms.

Pseudonym keys rotate by lookup under every live version
(`pseudonym_candidates`) and re-pseudonymising under the primary on next
contact; a retired version's pseudonyms can no longer be found.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from crypto._encoding import length_prefixed
from crypto._keyset import Keyring, KeyVersion

__all__ = ["pseudonym", "pseudonym_candidates"]

_LABEL = "hrd-intake/v1/pseudonym"


def pseudonym(
    keyring: Keyring, namespace: str, value: str, version: KeyVersion | None = None
) -> tuple[KeyVersion, str]:
    """Return the pseudonym of a value under one pseudonym key version.

    Args:
        keyring: holds the pseudonym keys.
        namespace: what kind of value this is; must not be empty.
        value: the identity to pseudonymise.
        version: the key version; the primary when None.

    Returns:
        (the version used, 64 lowercase hex characters).

    Raises:
        ValueError: empty namespace, or a string not encodable as UTF-8.
        KeyNotFound: no such pseudonym key version.
        KeyRetired: that version was retired.
    """
    if not namespace:
        raise ValueError("a pseudonym namespace must not be empty")
    used = keyring.primary("pseudonym") if version is None else version
    mac = HMAC(keyring.material("pseudonym", used), hashes.SHA256())
    mac.update(length_prefixed(_LABEL, namespace, value))
    return used, mac.finalize().hex()


def pseudonym_candidates(
    keyring: Keyring, namespace: str, value: str
) -> list[tuple[KeyVersion, str]]:
    """Return the value's pseudonym under every non-retired version.

    The primary comes first, then older versions newest first. Look a value up
    by all of them to find records pseudonymised before a rotation.

    Raises:
        ValueError: empty namespace, or a string not encodable as UTF-8.
    """
    primary = keyring.primary("pseudonym")
    others = sorted(
        (
            e.version
            for e in keyring.versions("pseudonym")
            if not e.retired and e.version != primary
        ),
        reverse=True,
    )
    return [pseudonym(keyring, namespace, value, version) for version in (primary, *others)]
