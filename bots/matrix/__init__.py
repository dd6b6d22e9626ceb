"""The Matrix channel on matrix-nio with end-to-end encryption.

`channel` builds and runs it; `sync` is the sync loop, `rooms` the room policy and
rendering, `events` the neutral event shapes, `outbox` the replies saved before
sending, `media` encrypted attachments, `state` the channel's sealed state,
`trust` the device-warning policy, `deliveries` sends what officers queued.
"""
