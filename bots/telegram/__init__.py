"""The Telegram channel on python-telegram-bot: long polling or a webhook, batches, deliveries.

`channel` builds and runs it; `updates` reads updates (no I/O), `batch` drives one
batch through the core, `render` makes the Bot API calls, `retry` bounds retries,
`webhook` the HTTP server, `deliveries` sends what officers queued. The per-sender
rate limit is shared with the Signal channel (`bots.ratelimit`).
"""
