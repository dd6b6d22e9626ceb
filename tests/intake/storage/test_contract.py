"""The storage contract suite covers every query of `intake.storage`, and SQL stays there.

The contract itself is in the `test_contract_*.py` modules beside this one,
each test run on SQLite and on PostgreSQL (see `conftest.py`). This module
checks that they call every public function of the query modules, and that
no other part of intake builds SQL.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

HERE = Path(__file__).parent
INTAKE = Path(__file__).parents[3] / "intake"

# Modules of query functions the contract suite covers whole (audit, leases,
# channel state and migrations have suites of their own beside this one).
QUERY_MODULES = (
    "cases",
    "conversations",
    "counts",
    "deliveries",
    "mission_keys",
    "missions",
    "officers",
    "pages",
    "purge",
    "seals",
    "wrapped_keys",
)
# Queries of other storage modules, covered here too.
ALSO = ("engine.ping", "key_usage.add_encryptions", "key_usage.encryptions", "audit.list_entries")

SQL_IMPORT = re.compile(
    r"^\s*from\s+sqlalchemy(\.[a-z_.]+)?\s+import\s+.*\b(select|insert|update|delete|text|func)\b",
    re.MULTILINE,
)
SQL_CALL = re.compile(r"\b(session|connection)\.(execute|scalars?|exec_driver_sql)\(")


def _public_functions(module_name: str) -> list[str]:
    module = importlib.import_module(f"intake.storage.{module_name}")
    return [
        f"{module_name}.{name}"
        for name, value in inspect.getmembers(module, inspect.isfunction)
        if not name.startswith("_") and value.__module__ == module.__name__
    ]


def _contract_source() -> str:
    return "\n".join(path.read_text() for path in sorted(HERE.glob("test_contract_*.py")))


@pytest.mark.parametrize(
    "function",
    [name for module in QUERY_MODULES for name in _public_functions(module)] + list(ALSO),
)
def test_the_contract_suite_calls_every_query(function: str) -> None:
    module, name = function.split(".")
    called = re.search(rf"\b{module}\.{name}\(", _contract_source())
    assert called, f"no contract test calls storage {function} (as `{module}.{name}(...)`)"


def test_only_storage_builds_sql() -> None:
    offenders = []
    for path in sorted(INTAKE.rglob("*.py")):
        relative = path.relative_to(INTAKE).as_posix()
        if relative.startswith("storage/"):
            continue
        source = path.read_text()
        if SQL_IMPORT.search(source) or SQL_CALL.search(source):
            offenders.append(relative)
    assert offenders == [], f"SQL outside intake/storage: {offenders}"
