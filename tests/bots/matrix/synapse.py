"""The session's Synapse for the Matrix channel tests, as a pytest plugin.

    pytest_plugins = ["tests.bots.matrix.synapse"]   # in each test module

A plugin's fixtures are registered once, so its session-scoped `synapse` is
one homeserver for every module that asks for it (started once, stopped at
the end of the session). Outside CI a machine that cannot install Synapse
skips; in CI it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.synapse import Synapse, default_venv_dir, ensure_synapse_venv, skip_reason


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """One real homeserver for the whole test session (installed on first use)."""
    reason = skip_reason(default_venv_dir())
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"Synapse is required in CI: {reason}")
        pytest.skip(reason)
    python = ensure_synapse_venv(default_venv_dir())
    with Synapse(python, workdir=tmp_path_factory.mktemp("synapse")) as server:
        yield server
