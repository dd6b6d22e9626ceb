"""The house rules a script can check: import direction between layers, and file size.

`bots -> intake -> {flows, crypto}`; inside intake, each package imports only
packages below it (DESIGN.md section 2): cli, web -> core -> triage -> keys
-> runtime -> storage -> the base (config, messages, references, errors).
Imports inside functions count too: a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bots", "intake", "flows", "crypto")
# Rank of each part of intake: a module may import its own part and lower ranks.
INTAKE_RANKS = {
    "cli": 8,
    "web": 7,
    "core": 6,
    "triage": 5,
    "keys": 4,
    "runtime": 3,
    "storage": 2,
    "base": 1,
}
# What channels may use of intake: the base, the runtime's health states and
# the lease they hold. No query, no key, no concrete service.
BOTS_MAY_IMPORT = ("intake.config", "intake.messages", "intake.references", "intake.errors",
                   "intake.runtime.health", "intake.storage.leases")
MAX_LINES = 400


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from intake import audit` names the module intake.audit
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def _part(module: str) -> str | None:
    """Which part of intake a dotted module name belongs to (None: not intake)."""
    parts = module.split(".")
    if parts[0] != "intake":
        return None
    if len(parts) > 1 and parts[1] in INTAKE_RANKS:
        return parts[1]
    if parts[1:] == ["__main__"]:  # `python -m intake`: the CLI's entry point
        return "cli"
    return "base"


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_flows_and_crypto_import_nothing_of_the_project() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for package in ("flows", "crypto")
        for path in _modules(package)
        for line, name in _imports(path)
        if name.split(".")[0] in PACKAGES and name.split(".")[0] != package
    ]
    assert offences == []


def test_intake_imports_point_down_only() -> None:
    offences = []
    for path in _modules("intake"):
        own = _part(_module_name(path))
        assert own is not None
        for line, name in _imports(path):
            top = name.split(".")[0]
            if top == "bots" and own != "cli":
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {name} (only cli may)")
            target = _part(name)
            if target is None or name == "intake":
                continue
            if INTAKE_RANKS[target] > INTAKE_RANKS[own]:
                offences.append(
                    f"{path.relative_to(ROOT)}:{line} ({own}) imports {name} ({target}, above it)"
                )
    assert offences == []


def test_the_entry_points_reach_storage_through_the_desks_only() -> None:
    # Issue 13: the web console uses the triage and keys layers, never storage
    # directly (the CLI's set-up commands, init and db upgrade, may).
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _modules("intake")
        if _part(_module_name(path)) == "web"
        for line, name in _imports(path)
        if _part(name) == "storage"
    ]
    assert offences == []


def test_bots_use_only_the_channel_face_of_intake() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _modules("bots")
        for line, name in _imports(path)
        if name.startswith("intake")
        and name != "intake"
        and not any(name == allowed or name.startswith(allowed + ".") for allowed in BOTS_MAY_IMPORT)
        # `from intake.messages import X` also lists intake.messages.X
        and not any(name.rpartition(".")[0] == allowed for allowed in BOTS_MAY_IMPORT)
    ]
    assert offences == []


def test_sql_is_built_in_the_storage_layer_only() -> None:
    builders = {"select", "insert", "update", "delete", "text", "func"}
    offences = []
    for path in _modules("intake"):
        if _part(_module_name(path)) == "storage":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                names = {alias.name for alias in node.names} & builders
                if names:
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno} {sorted(names)}")
    assert offences == []


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_stay_under_the_size_cap(package: str) -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in _modules(package)
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"split these by concept (cap {MAX_LINES} lines): {too_long}"


def test_the_checks_see_a_violation() -> None:
    # The walkers must find what they look for, or every test above passes vacuously.
    assert _part("intake.storage.models") == "storage"
    assert _part("intake.config") == "base"
    found = _imports(ROOT / "intake" / "core" / "service.py")
    assert any(name.startswith("intake.storage") for _, name in found)
