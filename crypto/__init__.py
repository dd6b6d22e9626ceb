"""Cryptography of hrd-intake: keyring, envelope encryption, pseudonyms, HPKE sealing.

A pure library: imports nothing of the project, only `cryptography` and the
standard library. Public names are listed here; modules starting with "_" are
private to the package.
"""

from crypto.authenticator import Authenticator, fingerprint
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
    wrap_draft_key,
    wrapped_key_kind,
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
from crypto.hpke_keys import (
    DEFAULT_ALGORITHM,
    HPKE_ALGORITHMS,
    PrivateKey,
    PublicKey,
    generate_keypair,
)
from crypto.keyring import (
    PRODUCTION_MEMORY_FLOOR_KIB,
    KdfParams,
    KeyEntry,
    KeyKind,
    Keyring,
    KeyVersion,
    check_kdf_params,
    create_keyring_file,
    keyring_file_params,
    load_keyring,
    save_keyring,
)
from crypto.passphrase_wrap import (
    rewrap_private_key,
    unwrap_private_key,
    wrap_private_key,
    wrapped_key_params,
)
from crypto.pseudonym import pseudonym, pseudonym_candidates
from crypto.recovery_file import export_recovery_key, load_recovery_key
from crypto.sealing import SealContext, open_sealed, seal
from crypto.word_hash import (
    WordHashParams,
    hash_word,
    new_word_salt,
    normalise_word,
    word_matches,
)

__all__ = [
    "DEFAULT_ALGORITHM",
    "FORMAT_VERSION",
    "HPKE_ALGORITHMS",
    "PRODUCTION_MEMORY_FLOOR_KIB",
    "Authenticator",
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
    "PrivateKey",
    "PublicKey",
    "SealContext",
    "Tampered",
    "UnsupportedFormat",
    "WordHashParams",
    "WrongKey",
    "check_kdf_params",
    "create_keyring_file",
    "export_recovery_key",
    "fingerprint",
    "generate_keypair",
    "hash_word",
    "keyring_file_params",
    "load_keyring",
    "load_recovery_key",
    "new_data_key",
    "new_word_salt",
    "normalise_word",
    "open_field",
    "open_sealed",
    "pseudonym",
    "pseudonym_candidates",
    "rewrap_data_key",
    "rewrap_private_key",
    "save_keyring",
    "seal",
    "seal_field",
    "unwrap_data_key",
    "unwrap_private_key",
    "word_matches",
    "wrap_data_key",
    "wrap_draft_key",
    "wrap_private_key",
    "wrapped_key_kind",
    "wrapped_key_params",
    "wrapped_key_version",
]
