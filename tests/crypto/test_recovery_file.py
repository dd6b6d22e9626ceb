"""Tests of crypto.recovery_file: the armored offline recovery private key."""

from __future__ import annotations

import base64

import pytest

from crypto.errors import UnsupportedFormat
from crypto.hpke_keys import HPKE_ALGORITHMS, PrivateKey, generate_keypair
from crypto.recovery_file import export_recovery_key, load_recovery_key

BEGIN = b"-----BEGIN HRD-INTAKE RECOVERY KEY-----"
END = b"-----END HRD-INTAKE RECOVERY KEY-----"


@pytest.fixture(params=HPKE_ALGORITHMS)
def private(request: pytest.FixtureRequest) -> PrivateKey:
    return generate_keypair(str(request.param))[0]


def body_lines(exported: bytes) -> tuple[list[bytes], int]:
    lines = exported.split(b"\n")
    first = lines.index(b"") + 1
    return lines, first


def test_export_then_load_round_trips(private: PrivateKey) -> None:
    exported = export_recovery_key(private)
    assert load_recovery_key(exported) == private
    assert load_recovery_key(bytearray(exported)) == private  # type: ignore[arg-type]


def test_the_file_says_what_it_is_and_to_keep_it_offline(private: PrivateKey) -> None:
    exported = export_recovery_key(private)
    assert exported.isascii()
    assert exported.startswith(BEGIN + b"\n")
    assert exported.endswith(END + b"\n")
    assert b"Comment: KEEP THIS FILE OFFLINE" in exported
    assert f"Key-Id: {private.public_key().key_id}\n".encode() in exported
    lines, first = body_lines(exported)
    assert all(0 < len(line) <= 64 for line in lines[first:-2])
    assert first > 1


def test_windows_line_ends_and_surrounding_space_are_accepted(private: PrivateKey) -> None:
    exported = export_recovery_key(private)
    assert load_recovery_key(b"\n  " + exported.replace(b"\n", b"\r\n") + b"\n\n") == private


def test_a_corrupted_checksum_is_unsupported(private: PrivateKey) -> None:
    exported = export_recovery_key(private)
    lines, first = body_lines(exported)
    line = lines[first]
    lines[first] = (b"B" if line[:1] == b"A" else b"A") + line[1:]
    with pytest.raises(UnsupportedFormat, match="checksum mismatch") as caught:
        load_recovery_key(b"\n".join(lines))
    assert caught.value.what == "recovery key file"


def test_a_mismatched_key_id_is_unsupported(private: PrivateKey) -> None:
    exported = export_recovery_key(private)
    other = generate_keypair(private.algorithm)[0].public_key().key_id
    edited = exported.replace(private.public_key().key_id.encode(), other.encode())
    with pytest.raises(UnsupportedFormat, match="Key-Id line does not match"):
        load_recovery_key(edited)


def test_a_public_key_inside_is_unsupported(private: PrivateKey) -> None:
    # A well-formed armor with a correct checksum, holding a public key.
    from crypto.recovery_file import _checksum

    payload = private.public_key().to_bytes()
    body = base64.b64encode(payload + _checksum(payload))
    forged = BEGIN + b"\nKey-Id: 0000000000000000\n\n" + body + b"\n" + END + b"\n"
    with pytest.raises(UnsupportedFormat, match="not a private key"):
        load_recovery_key(forged)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda f: b"", "no recovery key armor lines"),
        (lambda f: f.replace(BEGIN, b"-----BEGIN PGP PRIVATE KEY-----"), "armor"),
        (lambda f: f.replace(END + b"\n", b""), "armor"),
        (lambda f: f.replace(b"Comment:", b"Note:", 1), "unknown header line"),
        (lambda f: f.replace(b"Key-Id:", b"Comment:"), "expected one Key-Id line"),
        (lambda f: f.replace(b"\n\n", b"\n"), "no blank line"),
        (lambda f: f.split(b"\n\n")[0] + b"\n\n" + END, "no key"),
        (lambda f: f.replace(b"\n\n", b"\n\n!!!!"), "not base64"),
        (lambda f: f.replace(b"Comment: KEEP", "Comment: ü".encode()), "not ASCII"),
        (lambda f: f + b" " * 16384, "larger than"),
    ],
)
def test_malformed_files_are_unsupported(private: PrivateKey, edit: object, reason: str) -> None:
    exported = export_recovery_key(private)
    with pytest.raises(UnsupportedFormat, match=reason):
        load_recovery_key(edit(exported))  # type: ignore[operator]


def test_every_truncated_body_is_unsupported(private: PrivateKey) -> None:
    exported = export_recovery_key(private)
    head, _, rest = exported.partition(b"\n\n")
    body = rest[: -len(END) - 1].replace(b"\n", b"")
    for size in range(0, len(body), 4):  # base64 stays valid on 4-character boundaries
        truncated = head + b"\n\n" + body[:size] + b"\n" + END + b"\n"
        with pytest.raises(UnsupportedFormat):
            load_recovery_key(truncated)


def test_non_bytes_are_a_type_error() -> None:
    with pytest.raises(TypeError):
        load_recovery_key("-----BEGIN")  # type: ignore[arg-type]
