"""Cross-signing a matrix-nio device in tests, as Element does (nio cannot).

Uses the bot's own cross-signing code (`bots.matrix.identity`) and plain
HTTP to the test Synapse: publish the user's master, self-signing and
user-signing keys (password auth when the server asks), then sign the
device with the self-signing key.

    keys = cross_sign_device(synapse, token, user_id, device_id, password)
"""

from __future__ import annotations

import json
import urllib.error
from typing import Any

from bots.matrix.identity import CrossSigningKeys
from tests.support.synapse import Synapse


def cross_sign_device(
    synapse: Synapse,
    token: str,
    user_id: str,
    device_id: str,
    password: str,
    keys: CrossSigningKeys | None = None,
    reset: bool = False,
) -> CrossSigningKeys:
    """Sign `device_id` with `keys` (new ones unless given), publishing them if needed."""
    keys = keys or CrossSigningKeys.generate()

    def post(path: str, body: dict[str, Any]) -> Any:
        return synapse.request("POST", f"/_matrix/client/v3{path}", body, token=token)

    answer = post("/keys/query", {"device_keys": {user_id: []}})
    published = (answer.get("master_keys") or {}).get(user_id, {}).get("keys", {})
    if reset or f"ed25519:{keys.master_public}" not in published:
        body = keys.upload_body(user_id)
        try:
            post("/keys/device_signing/upload", body)
        except urllib.error.HTTPError as exc:
            if exc.code != 401:
                raise
            auth = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user_id},
                "password": password,
                "session": json.loads(exc.read())["session"],
            }
            post("/keys/device_signing/upload", {**body, "auth": auth})
        answer = post("/keys/query", {"device_keys": {user_id: []}})
    device = answer["device_keys"][user_id][device_id]
    result = post("/keys/signatures/upload", {user_id: {device_id: keys.sign_device(user_id, device)}})
    if result.get("failures"):
        raise RuntimeError(f"device signature refused: {result['failures']}")
    return keys
