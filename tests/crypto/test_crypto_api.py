"""Tests of the crypto package as a whole: public names, dependencies, errors."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import crypto
from crypto import errors

PACKAGE = Path(__file__).resolve().parents[2] / "crypto"


def test_crypto_is_the_regular_package() -> None:
    assert getattr(crypto, "__file__", None) == str(PACKAGE / "__init__.py"), (
        "crypto was imported as a namespace package: the editable install predates"
        " crypto/__init__.py (reinstall with pip install -e .) or the project root is"
        " not on sys.path"
    )


def test_public_names_are_exported() -> None:
    assert sorted(crypto.__all__) == sorted(set(crypto.__all__))
    for name in crypto.__all__:
        assert getattr(crypto, name) is not None
    for name in (
        "Keyring",
        "KeyEntry",
        "KeyVersion",
        "KdfParams",
        "Binding",
        "seal_field",
        "open_field",
        "wrap_data_key",
        "unwrap_data_key",
        "rewrap_data_key",
        "wrapped_key_version",
        "pseudonym",
        "pseudonym_candidates",
        "load_keyring",
        "save_keyring",
        "create_keyring_file",
        "DEFAULT_ALGORITHM",
        "PublicKey",
        "PrivateKey",
        "generate_keypair",
        "SealContext",
        "seal",
        "open_sealed",
        "wrap_private_key",
        "unwrap_private_key",
        "rewrap_private_key",
        "export_recovery_key",
        "load_recovery_key",
    ):
        assert name in crypto.__all__


def test_crypto_imports_nothing_of_the_project() -> None:
    allowed_roots = {"crypto", "cryptography", "__future__"}
    for source in PACKAGE.glob("*.py"):
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                root = node.module.split(".")[0]
                assert root not in {"bots", "intake", "flows"}, (source.name, node.module)
                assert root in allowed_roots or _is_stdlib(root), (source.name, node.module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    root = alias.name.split(".")[0]
                    assert root in allowed_roots or _is_stdlib(root), (source.name, alias.name)


def _is_stdlib(name: str) -> bool:
    return name in sys.stdlib_module_names


def test_every_error_is_a_crypto_error_and_carries_data() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.CryptoError)
    misplaced = errors.Misplaced(("case", "HRD-1", "notes"))
    assert (misplaced.record_type, misplaced.record_id, misplaced.field) == (
        "case",
        "HRD-1",
        "notes",
    )
    unsupported = errors.UnsupportedFormat("field blob", 9, "unsupported format version 9")
    assert str(unsupported) == "field blob: unsupported format version 9"
    assert errors.KeyNotFound("kek", 3).version == 3
    assert errors.KeyringFileError(PACKAGE, "missing").reason == "missing"
