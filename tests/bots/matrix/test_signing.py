"""Signed JSON and cross-signing reads, against the spec's own test vectors."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bots.matrix.crosssigning import read_query
from bots.matrix.identity import CrossSigningKeys, fingerprint
from bots.matrix.signing import canonical_json, public_b64, sign, unb64, verify

# The Matrix specification's appendix, "Signing JSON": seed and expected signatures.
SPEC_SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
SPEC_EMPTY = "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
SPEC_ONE_TWO = (
    "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
)
USER = "@bot:localhost"


def _spec_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(unb64(SPEC_SEED))


def test_canonical_json_sorts_and_packs() -> None:
    assert canonical_json({"b": 2, "a": [1, {"d": "é", "c": None}]}) == (
        '{"a":[1,{"c":null,"d":"é"}],"b":2}'.encode()
    )


def test_signatures_match_the_spec() -> None:
    key = _spec_key()
    key_id = f"ed25519:{public_b64(key)}"
    assert sign({}, "domain", key)["signatures"]["domain"][key_id] == SPEC_EMPTY
    signed = sign({"one": 1, "two": "Two"}, "domain", key)
    assert signed["signatures"]["domain"][key_id] == SPEC_ONE_TWO
    assert verify(signed, "domain", public_b64(key))


def test_tampered_or_foreign_signatures_do_not_verify() -> None:
    key = _spec_key()
    signed = sign({"one": 1}, USER, key)
    assert not verify({**signed, "one": 2}, USER, public_b64(key))
    assert not verify(signed, "@other:localhost", public_b64(key))
    assert not verify(signed, USER, public_b64(Ed25519PrivateKey.generate()))
    # `unsigned` is outside what is signed.
    assert verify({**signed, "unsigned": {"x": 1}}, USER, public_b64(key))


def _device(keys: CrossSigningKeys, device_id: str, signed: bool) -> dict[str, object]:
    device_key = Ed25519PrivateKey.generate()
    obj = {
        "user_id": USER,
        "device_id": device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
        "keys": {f"ed25519:{device_id}": public_b64(device_key)},
    }
    return keys.sign_device(USER, obj) if signed else obj


def test_read_query_tells_signed_devices_from_the_others() -> None:
    keys = CrossSigningKeys.generate()
    body = keys.upload_body(USER)
    answer = {
        "master_keys": {USER: body["master_key"]},
        "self_signing_keys": {USER: body["self_signing_key"]},
        "device_keys": {USER: {"A": _device(keys, "A", True), "B": _device(keys, "B", False)}},
    }
    user = read_query(answer, [USER])[USER]
    assert user.master == keys.master_public
    assert user.self_signing == keys.self_signing_public
    assert set(user.signed) == {"A"}

    # A self-signing key the master did not sign signs nothing.
    forged = CrossSigningKeys.generate().upload_body(USER)["self_signing_key"]
    answer["self_signing_keys"] = {USER: forged}
    assert read_query(answer, [USER])[USER].signed == {}
    assert read_query({}, [USER])[USER].master is None


def test_keys_survive_their_bytes() -> None:
    keys = CrossSigningKeys.generate()
    again = CrossSigningKeys.from_bytes(keys.to_bytes())
    assert again.master_public == keys.master_public
    assert again.self_signing_public == keys.self_signing_public
    assert fingerprint(keys.master_public).replace(" ", "") == keys.master_public
    assert keys.master_public not in repr(keys)
