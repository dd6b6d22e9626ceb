"""Blobs written before a change still open after it: the at-rest formats are pinned.

Each vector below was written by the code as it stood before the fold of issue 10
(one Argon2id derivation, one blob header check); if a refactoring changes a byte
of any format, one of these fails. The key material is fixed and public: test
values only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from crypto.envelope import Binding, DataKey, open_field, unwrap_data_key, wrapped_key_version
from crypto.hpke_keys import PrivateKey, PublicKey
from crypto.keyring import KeyVersion, keyring_file_params, load_keyring
from crypto.passphrase_wrap import unwrap_private_key
from crypto.sealing import SealContext, open_sealed

PASSPHRASE = b"correct horse battery staple"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
KEK_2 = bytes(range(32, 64))
PSEUDONYM_1 = bytes(range(64, 96))
PRIVATE_RAW = bytes(range(100, 132))
DEK = DataKey(bytes(range(200, 232)))

# A keyring: KEK 1 retired, KEK 2 primary, pseudonym key 1; Argon2id 1 MiB, 1 pass, 1 lane.
KEYRING_FILE = (
    "{\n"
    '  "ciphertext": "HRIowfjuHoSiC10BYqRLMGwxMAeEUD23xpD/XmcFMwULbErG2h0J0OAzGbJ4kBt0vBKzDAHKjB9hd94Q1b6CeEaOddLXx4nD+wzbBNtaTaCArS2IbYg0c1RigKS0lm2fssfIG1m3EEBVTXKZJ2fhzs7fWdaVpSQkqDtlYA7tTH12hWEA0+5G3LaLzF8JjKKTxX3ZZQgVb8qi0XOQzxN7fEKA9QwiCXxYBvwKpfQ9jzpOz1QCNc4dRtvyIPRuMGim2zUS2FjiMGqd9cKwsieeRr40KmzZ70ZZLHO301ZXGTZcBTuLQZ90n0yLY2zJLRNfQdMeqwtZeMSlsm9iK/BrkwToawxMAnqavKqjxVsWCvgULemSYNO7P1MoebTztCFMLciy2Pg4ZKQg0T38gR106tE/US5JBcKUKxV7vzRqOzAPdcn0CQyIzHVdEVW/bbYegp+3jBzFbHLtsD+CNuAVKbeZVQQODo5qJgbp2bUNzZvGM4MKxBrZ+JtXYZwYKWrDFK/MC3bsa580nKr0HimfhETgOQ1CEXw+ZTd83sA0sFV0TtDeTV2aXJOpcuwZXLFyzr/5v/j92IuZc+N266XKaR4bC/bWue1Efg==",\n'
    '  "format": "hrd-intake-keyring",\n'
    '  "kdf": {\n'
    '    "iterations": 1,\n'
    '    "lanes": 1,\n'
    '    "memory_kib": 1024,\n'
    '    "name": "argon2id",\n'
    '    "salt": "LjBjMsXadbmY1JGLtN4Upw=="\n'
    "  },\n"
    '  "nonce": "JctFh81anxt+mz/m",\n'
    '  "version": 1\n'
    "}\n"
).encode("ascii")
# The x25519 private key PRIVATE_RAW of officer:42, wrapped under PASSPHRASE.
WRAPPED_PRIVATE_KEY = (
    '{"ciphertext":"FHXbfPTuw46Uy/jye36Wt4RXNN4Y5lsWaOaTB4RnINbSPcPJIxc8zHIEsAUuP'
    '8tiAcL9","format":"hrd-intake-wrapped-private-key","kdf":{"iterations":1,"la'
    'nes":1,"memory_kib":1024,"name":"argon2id","salt":"o017/4nZ+XDD7cSKP4LqVA=="'
    '},"nonce":"x7Ki1EDANQ8QU2s+","owner":"officer:42","version":1}'
).encode("ascii")
PRIVATE_KEY_BYTES = bytes.fromhex(
    "0105016465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283"
)
PUBLIC_KEY_BYTES = bytes.fromhex(
    "0104017d9c24316539825c1896e57f28197746793ce60cbee3ad47da9d07b85fa55e2a"
)
# DEK wrapped under KEK 2 for (case, HRD-1).
WRAPPED_DEK = bytes.fromhex(
    "0101000000021277508d4266ee451a9c6e9dd33690da4a748931ebaffc4247986d26e2d278b6b73d"
    "069127136a7f91a6d1d5fd56b90d6a485f328446ff89bca871c6789dbe57ec78d9d8"
)
# b"a secret" under DEK in (case, HRD-1, story).
FIELD = bytes.fromhex(
    "0102cc5396d84546d5bab87f0b723c10369b9b23a164b3c7eabc8e8737682e69cc9f435dec795ca4"
    "5655b6afc8f27d6cf59715eb03da86a04cc25b3fd900217c70f6d6aa61505972f990ec4c1adae5d5"
    "fe030d98516eaa2c1015b32b3a8f2a03ab9a8a03f0236ac4843544dda439"
)
# b"a sealed secret" sealed to the public key of PRIVATE_RAW.
SEALED = bytes.fromhex(
    "01030148ae81e3046e7e7078b9316ba2f7751c781871d2b944323c08dba35a6873a452c6fe69f85d"
    "a4162ad88ae66688344e6bd65fac3b8278759514dcfbe945e23145aa1fed3ee8600423b69f5e2ea4"
    "a064"
)


def keyring_file(tmp_path: Path) -> Path:
    path = tmp_path / "keyring.json"
    path.write_bytes(KEYRING_FILE)
    path.chmod(0o600)
    return path


def test_a_keyring_file_written_before_opens(tmp_path: Path) -> None:
    path = keyring_file(tmp_path)
    keyring = load_keyring(path, PASSPHRASE)
    assert keyring.primary("kek") == KeyVersion(2)
    assert keyring.material("kek", KeyVersion(2)) == KEK_2
    assert [entry.retired for entry in keyring.versions("kek")] == [True, False]
    assert keyring.material("pseudonym", KeyVersion(1)) == PSEUDONYM_1
    assert keyring.versions("pseudonym")[0].created_at == NOW
    params = keyring_file_params(path)
    assert (params.memory_kib, params.iterations, params.lanes) == (1024, 1, 1)


def test_a_wrapped_private_key_written_before_opens() -> None:
    private = unwrap_private_key(WRAPPED_PRIVATE_KEY, PASSPHRASE, "officer:42")
    assert private == PrivateKey("x25519", PRIVATE_RAW)


def test_serialized_keys_are_unchanged() -> None:
    private = PrivateKey("x25519", PRIVATE_RAW)
    assert private.to_bytes() == PRIVATE_KEY_BYTES
    assert private.public_key().to_bytes() == PUBLIC_KEY_BYTES
    assert PrivateKey.from_bytes(PRIVATE_KEY_BYTES) == private
    assert PublicKey.from_bytes(PUBLIC_KEY_BYTES) == private.public_key()


def test_a_wrapped_data_key_and_field_written_before_open(tmp_path: Path) -> None:
    keyring = load_keyring(keyring_file(tmp_path), PASSPHRASE)
    assert wrapped_key_version(WRAPPED_DEK) == KeyVersion(2)
    assert unwrap_data_key(keyring, WRAPPED_DEK, "case", "HRD-1") == DEK
    assert open_field(DEK, FIELD, Binding("case", "HRD-1", "story")) == b"a secret"


def test_a_sealed_secret_written_before_opens() -> None:
    context = SealContext("case-key", "HRD-1", "mission:m1", 3)
    private = PrivateKey("x25519", PRIVATE_RAW)
    assert open_sealed(private, SEALED, context) == b"a sealed secret"
