"""Catalogs: English complete, fallback per key, what each language lacks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from flows import Catalog, CatalogError, CountryMatcher, Engine, SpecError, load_catalog, load_specs
from flows.prompts import ENGINE_KEYS
from flows.status import STATUS_KEYS
from flows.summary import SUMMARY_KEYS

SHIPPED = Path(__file__).resolve().parents[2] / "flows" / "catalogs"


def copy_catalogs(tmp_path: Path) -> Path:
    folder = tmp_path / "catalogs"
    shutil.copytree(SHIPPED, folder)
    return folder


def edit_po(path: Path, key: str, text: str | None, *, fuzzy: bool = False) -> None:
    """Change (text) or remove (None) one entry of a PO file."""
    with path.open("rb") as handle:
        po = read_po(handle)
    if text is None:
        po.delete(key)
    else:
        po[key].string = text
        if fuzzy:
            po[key].flags.add("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, po, width=0)


def test_languages_and_their_names(catalog: Catalog) -> None:
    assert catalog.languages == ("en", "ar", "es", "fr", "ru", "uk")
    names = {lang: catalog.language_name(lang) for lang in catalog.languages}
    assert names == {
        "en": "English",
        "ar": "العربية",
        "es": "Español",
        "fr": "Français",
        "ru": "Русский",
        "uk": "Українська",
    }
    assert catalog.direction("ar") == "rtl"
    assert catalog.direction("fr") == "ltr"


def test_english_is_complete(catalog: Catalog, specs: dict[str, object]) -> None:
    needed = [*ENGINE_KEYS, *SUMMARY_KEYS, *STATUS_KEYS]
    for spec in load_specs(catalog=catalog).values():
        needed.extend(spec.catalog_keys())
    assert catalog.missing_keys(needed) == []
    assert all(text.strip() for text in catalog.texts["en"].values())


def test_list_what_each_language_is_missing(catalog: Catalog) -> None:
    missing = catalog.missing()
    assert set(missing) == {"ar", "es", "fr", "ru", "uk"}
    for lang, keys in missing.items():
        # Informational: shown with `pytest -s`; untranslated keys fall back to English.
        print(f"{lang} ({catalog.language_name(lang)}): {len(keys)} missing", *keys, sep="\n  ")


def test_a_missing_translation_is_listed_and_falls_back(tmp_path: Path) -> None:
    folder = copy_catalogs(tmp_path)
    edit_po(folder / "fr.po", "engine.menu", None)
    edit_po(folder / "es.po", "engine.help", "")  # empty counts as missing
    edit_po(folder / "ru.po", "engine.done", "Готово?", fuzzy=True)  # fuzzy too
    catalog = load_catalog(folder)
    missing = catalog.missing()
    assert missing["fr"] == ["engine.menu"]
    assert missing["es"] == ["engine.help"]
    assert missing["ru"] == ["engine.done"]
    assert missing["ar"] == []
    assert catalog.text("fr", "engine.menu") == catalog.text("en", "engine.menu")
    assert catalog.text("fr", "engine.done") == "Terminé"


def test_a_key_missing_in_english_fails_when_loaded(
    tmp_path: Path, countries: CountryMatcher
) -> None:
    folder = copy_catalogs(tmp_path)
    edit_po(folder / "en.po", "engine.submitted", None)
    edit_po(folder / "en.po", "threat.details.label", None)
    for lang in ("fr", "es", "ar", "ru", "uk"):
        edit_po(folder / f"{lang}.po", "engine.submitted", None)
        edit_po(folder / f"{lang}.po", "threat.details.label", None)
    catalog = load_catalog(folder)
    assert not catalog.has("engine.submitted")
    with pytest.raises(KeyError):
        catalog.text("fr", "engine.submitted")
    with pytest.raises(SpecError) as caught:
        load_specs(catalog=catalog)
    assert caught.value.step == "details"
    assert "threat.details.label" in caught.value.reason
    with pytest.raises(CatalogError) as engine_error:
        Engine(load_specs(), catalog, countries)
    assert engine_error.value.key == "engine.submitted"


def test_a_translation_with_other_placeholders_is_refused(tmp_path: Path) -> None:
    folder = copy_catalogs(tmp_path)
    edit_po(folder / "fr.po", "engine.submitted", "Merci. Référence : {referense}.")
    with pytest.raises(CatalogError) as caught:
        load_catalog(folder)
    assert caught.value.key == "engine.submitted"
    assert caught.value.path == folder / "fr.po"
    assert "placeholders" in caught.value.reason


@pytest.mark.parametrize("bad", ["{reference.__class__}", "{reference!r}", "{0}", "{reference"])
def test_only_plain_placeholders(tmp_path: Path, bad: str) -> None:
    folder = copy_catalogs(tmp_path)
    edit_po(folder / "en.po", "engine.submitted", f"Ref {bad}")
    with pytest.raises(CatalogError):
        load_catalog(folder)


def test_english_is_required(tmp_path: Path) -> None:
    folder = copy_catalogs(tmp_path)
    (folder / "en.po").unlink()
    with pytest.raises(CatalogError, match="English"):
        load_catalog(folder)


def test_placeholders_are_filled_not_reinterpreted(catalog: Catalog) -> None:
    text = catalog.text("en", "engine.current_answer", answer="{reference} {0} %s")
    assert text.endswith("{reference} {0} %s")
    with pytest.raises(KeyError):
        catalog.text("en", "engine.submitted")  # a missing value is a bug, not silence


def test_unknown_language_falls_back_to_english(catalog: Catalog) -> None:
    assert catalog.text("de", "engine.menu") == catalog.text("en", "engine.menu")


def test_every_language_is_complete(catalog: Catalog) -> None:
    """Every shipped language translates every key (uk included): nothing falls back."""
    assert catalog.missing() == {lang: [] for lang in ("ar", "es", "fr", "ru", "uk")}


def test_ukrainian_is_its_own_language(catalog: Catalog) -> None:
    english, russian = catalog.texts["en"], catalog.texts["ru"]
    for key, text in catalog.texts["uk"].items():
        words = re.sub(r"\{\w+\}", "", text)  # placeholders are the same everywhere
        if sum(char.isalpha() for char in words) > 12:
            assert text != english[key], key
            assert text != russian[key], key
    assert catalog.text("uk", "engine.language_changed") == "Відтепер я писатиму українською."


@pytest.mark.parametrize("lang", ["ar", "es", "fr", "ru", "uk"])
def test_no_english_hint_left_in_a_translation(catalog: Catalog, lang: str) -> None:
    """Hints are translated too ("(several allowed: ...)" once stayed English)."""
    english_words = {"several", "allowed", "numbers", "separated", "commas", "choose", "please"}
    for key, text in catalog.texts[lang].items():
        words = {word.lower().strip(".,:()") for word in text.split()}
        assert not words & english_words, (key, text)


def test_arabic_punctuation(catalog: Catalog) -> None:
    """Arabic texts use the Arabic comma, semicolon and question mark."""
    for key, text in catalog.texts["ar"].items():
        bare = text.replace("JPEG, PNG", "")
        assert "," not in bare and ";" not in bare and "?" not in bare, key
