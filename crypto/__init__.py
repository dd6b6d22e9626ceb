"""Cryptography of hrd-intake: keyring, envelope encryption, pseudonyms.

A pure library: imports nothing of the project, only `cryptography` and the
standard library. Public names are listed here; modules starting with "_" are
private to the package.
"""

from crypto.envelope import (
    FORMAT_VERSION,
    Binding,
    DataKey,
    new_data_key,
    open_field,
    rewrap_data_key,
    seal_field,
    unwrap_data_key,
    wrap_data_key,
    wrapped_key_version,
)
from crypto.errors import (
    BadPassphrase,
    CryptoError,
    KeyNotFound,
    KeyRetired,
    KeyringFileError,
    Misplaced,
    Tampered,
    UnsupportedFormat,
    WrongKey,
)
from crypto.keyring import (
    KdfParams,
    KeyEntry,
    KeyKind,
    Keyring,
    KeyVersion,
    create_keyring_file,
    load_keyring,
    save_keyring,
)
from crypto.pseudonym import pseudonym, pseudonym_candidates

__all__ = [
    "FORMAT_VERSION",
    "BadPassphrase",
    "Binding",
    "CryptoError",
    "DataKey",
    "KdfParams",
    "KeyEntry",
    "KeyKind",
    "KeyNotFound",
    "KeyRetired",
    "KeyVersion",
    "Keyring",
    "KeyringFileError",
    "Misplaced",
    "Tampered",
    "UnsupportedFormat",
    "WrongKey",
    "create_keyring_file",
    "load_keyring",
    "new_data_key",
    "open_field",
    "pseudonym",
    "pseudonym_candidates",
    "rewrap_data_key",
    "save_keyring",
    "seal_field",
    "unwrap_data_key",
    "wrap_data_key",
    "wrapped_key_version",
]
