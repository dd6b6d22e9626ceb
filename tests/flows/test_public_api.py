"""The package's public names, and the rule that flows imports nothing of the project."""

from __future__ import annotations

import ast
from pathlib import Path

import flows

FLOWS_DIR = Path(flows.__file__).resolve().parent


def test_public_names_resolve() -> None:
    assert flows.__all__ == sorted(flows.__all__, key=lambda name: (not name.isupper(), name))
    for name in flows.__all__:
        assert getattr(flows, name) is not None, name
    for name in (
        "Engine",
        "load_specs",
        "load_catalog",
        "CountryMatcher",
        "to_mermaid",
        "SpecError",
        "Submit",
        "RoutingFacts",
        "Answer",
        "Prompt",
        "Outcome",
        # the answer of a country step, read by the intake (flows.place_answer)
        "NOT_LISTED",
        "PLACE_SUFFIX",
        "split_place",
        "Place",
        "PlaceMatch",
    ):
        assert name in flows.__all__


def test_flows_is_a_pure_library() -> None:
    for path in sorted(FLOWS_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top not in {"intake", "crypto", "bots", "tests"}, f"{path.name}: {module}"
                assert top not in {"socket", "requests", "sqlalchemy", "subprocess"}, path.name


def test_modules_stay_small() -> None:
    for path in FLOWS_DIR.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 350, path.name


def test_shipped_data_files() -> None:
    assert sorted(p.name for p in (FLOWS_DIR / "specs").glob("*.yaml")) == [
        "assistance_request.yaml",
        "safety_checkin.yaml",
        "threat_report.yaml",
    ]
    assert sorted(p.name for p in (FLOWS_DIR / "catalogs").glob("*.po")) == [
        "ar.po",
        "en.po",
        "es.po",
        "fr.po",
        "ru.po",
        "uk.po",
    ]
