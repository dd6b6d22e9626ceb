"""The Matrix channel on matrix-nio with end-to-end encryption, cross-signed.

`channel` builds and runs it; `sync` is the sync loop, `rooms` the room policy and
rendering, `events` the neutral event shapes, `outbox` the replies saved before
sending, `media` encrypted attachments, `state` the channel's sealed state,
`deliveries` sends what officers queued.

Identity and trust: `signing` (canonical JSON, Ed25519), `identity` (the bot's
cross-signing keys), `keys_api` (publishing them, signing the device),
`crosssigning` (reading users' keys), `trust` (which devices get room keys, when
officers are warned: pure) and `devices` (applying it before each send).

At rest: `store` (nio's store over the database's sealed items), `legacy` (moving
an old file store in), `forget` and `megolm` (forgetting what was read of a room
at every wipe).
"""
