"""The officers' web console (`hrd-intake web`): an entry point beside the CLI.

Pages and forms only; it uses the triage, keys and core layers, never storage.
"""

from intake.web.app import WebOptions, build_app
from intake.web.server import console_app, serve_console
from intake.web.sessions import SessionStore

__all__ = ["SessionStore", "WebOptions", "build_app", "console_app", "serve_console"]
