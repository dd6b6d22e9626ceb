"""The core: the conversation service, its effects, submission and sealing, files, routing.

Channels call the service (through `bots.core.Core`); it answers inbound
messages with replies and never calls a platform itself. `app` builds the
application's objects from the settings for the entry points.
"""
