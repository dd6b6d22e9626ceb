"""Looking for planted canaries in everything a stolen server would hold."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def _variants(canary: str) -> set[bytes]:
    return {
        canary.encode("utf-8"),
        canary.encode("utf-16-le"),
        canary.encode("utf-16-be"),
        canary.lower().encode("utf-8"),
        canary.upper().encode("utf-8"),
    }


def files_under(*roots: Path) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found.extend(p for p in root.rglob("*") if p.is_file())
    return found


def leaks(canaries: Iterable[str], paths: Iterable[Path]) -> list[tuple[str, Path]]:
    """Every (canary, file) where the canary's bytes appear in the file."""
    hits = []
    for path in paths:
        data = path.read_bytes()
        for canary in canaries:
            if any(variant in data for variant in _variants(canary)):
                hits.append((canary, path))
    return hits
