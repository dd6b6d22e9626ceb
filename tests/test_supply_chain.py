"""The supply chain: every dependency pinned with hashes, in step with pyproject.toml.

A dependency added to pyproject.toml without `make lock` would be installed
by nothing (the Makefile installs only from the lock), so this fails first,
saying what to run.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s\\;]+)")
# Releases below these carry published vulnerabilities that reach us.
SECURITY_FLOORS = {"aiohttp": "3.12.14", "pillow": "11.3", "setuptools": "78.1.1"}


def _pyproject() -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = {"runtime": [Requirement(r) for r in project["dependencies"]]}
    for extra, items in project["optional-dependencies"].items():
        groups[extra] = [Requirement(r) for r in items]
    return groups


def _lock(name: str) -> dict[str, tuple[Version, int]]:
    """Package -> (pinned version, number of hashes)."""
    pins: dict[str, tuple[Version, int]] = {}
    current = None
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match[1].split("[")[0])
            pins[current] = (Version(match[2]), 0)
        elif current and "--hash=sha256:" in line:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


@pytest.mark.parametrize(
    ("lock", "groups"),
    [("requirements.lock", ("runtime", "build")), ("requirements-dev.lock", ("runtime", "build", "dev"))],
)
def test_every_dependency_is_pinned_with_hashes_within_its_range(
    lock: str, groups: tuple[str, ...]
) -> None:
    pins = _lock(lock)
    assert pins, f"{lock} pins nothing"
    declared = [req for group in groups for req in _pyproject()[group]]
    problems = []
    for req in declared:
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name} is not in {lock}")
            continue
        version, _hashes = pins[name]
        if not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} in {lock} is outside {req.specifier}")
    unhashed = [name for name, (_, hashes) in pins.items() if hashes == 0]
    assert problems == [], f"run `make lock`: {problems}"
    assert unhashed == [], f"pins without hashes in {lock}: {unhashed}"


def test_security_floors_hold_in_the_ranges_and_the_locks() -> None:
    declared = {
        canonicalize_name(req.name): req for group in _pyproject().values() for req in group
    }
    for lock in ("requirements.lock", "requirements-dev.lock"):
        pins = _lock(lock)
        for name, floor in SECURITY_FLOORS.items():
            assert pins[name][0] >= Version(floor), f"{name} {pins[name][0]} in {lock}"
            req = declared.get(name)
            if req is not None:
                below = (*Version(floor).release[:-1], max(Version(floor).release[-1] - 1, 0))
                assert not req.specifier.contains(".".join(map(str, below))), (
                    f"{req} admits {'.'.join(map(str, below))}, below the floor {floor}"
                )


def test_the_makefile_installs_only_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements-dev.lock" in makefile
    assert "--no-deps --no-build-isolation -e ." in makefile
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert re.search(r"^ARG BASE=\S+@sha256:[0-9a-f]{64}$", dockerfile, re.M), "base image not pinned"
    assert all(line == "FROM ${BASE}" or line.startswith("FROM ${BASE} ") for line in dockerfile.splitlines() if line.startswith("FROM "))
