"""Errors raised by ``flows`` when its configuration is wrong.

Nothing here is raised because of what a defender typed: the engine turns bad
input into a re-prompt. These errors mean a spec or a catalog is broken, and
they are raised when it is loaded (fail fast, at start-up or in CI)::

    FlowsError
     ├── SpecError      a flow spec is invalid (.path, .step, .reason)
     └── CatalogError   a message catalog is invalid (.path, .key, .reason)
"""

from __future__ import annotations

from pathlib import Path


class FlowsError(Exception):
    """Base of every error raised by ``flows``."""


class SpecError(FlowsError):
    """A flow spec cannot be used.

    Attributes:
        path: the spec file.
        step: the step id concerned, or None when the problem is flow-wide.
        reason: one sentence saying what is wrong.
    """

    def __init__(self, path: Path, step: str | None, reason: str) -> None:
        self.path = path
        self.step = step
        self.reason = reason
        where = f"{path}: step {step!r}" if step is not None else str(path)
        super().__init__(f"{where}: {reason}")


class CatalogError(FlowsError):
    """A message catalog cannot be used.

    Attributes:
        path: the catalog file, or None for a check across all files.
        key: the message key concerned, or None.
        reason: one sentence saying what is wrong.
    """

    def __init__(self, path: Path | None, key: str | None, reason: str) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        parts = [str(path) if path is not None else "catalog"]
        if key is not None:
            parts.append(f"key {key!r}")
        super().__init__(": ".join([*parts, reason]))
