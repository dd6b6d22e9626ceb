"""The Signal channel on signal-cli's JSON-RPC daemon: keep first, then answer.

`channel` builds and runs it (sessions, faults, backoff); `rpc` is the
JSON-RPC client; `envelopes` reads notifications (no I/O); `pipeline` keeps,
marks read, answers and sends one batch (and says exactly when signal-cli
lets go of a message); `files` takes attachments out of signal-cli's folder;
`render` numbers choices; `deliveries` sends what officers queued.
"""
