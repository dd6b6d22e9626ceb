"""Message catalogs: one gettext PO file per language, keyed by stable ids.

A msgid is a key such as ``threat.details.prompt``; its msgstr is the text in
that language. Placeholders use Python brace syntax (``{reference}``) and are
checked when the catalog is loaded, so a translation can never ask at run time
for a value the engine does not pass. English is the reference language and
must be complete; any other language falls back to English key by key.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.messages.pofile import read_po

from flows.errors import CatalogError

__all__ = ["REFERENCE_LANGUAGE", "Catalog", "load_catalog"]

REFERENCE_LANGUAGE = "en"
_DEFAULT_DIR = Path(__file__).resolve().parent / "catalogs"
_LANG_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _placeholders(text: str, path: Path, key: str) -> frozenset[str]:
    """Return the ``{name}`` fields of ``text``; only plain names are allowed."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise CatalogError(path, key, f"bad brace syntax: {exc}") from exc
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not _FIELD_RE.match(field) or spec or conversion:
            raise CatalogError(path, key, f"placeholder {{{field}}} must be a plain name")
        names.add(field)
    return frozenset(names)


def _read_language(path: Path) -> dict[str, str]:
    """Read one PO file into ``{key: text}``, skipping empty and fuzzy entries."""
    with path.open("rb") as handle:
        po = read_po(handle, ignore_obsolete=True)
    texts: dict[str, str] = {}
    for message in po:
        if not message.id:
            continue  # the header entry
        if not isinstance(message.id, str) or not isinstance(message.string, str):
            raise CatalogError(path, str(message.id), "plural entries are not used here")
        if message.string and not message.fuzzy:
            texts[message.id] = message.string
    return texts


@dataclass(frozen=True, eq=False)
class Catalog:
    """Texts of every language, with per-key fallback to English.

    Build it with :func:`load_catalog`; the constructor trusts its input.
    """

    texts: Mapping[str, Mapping[str, str]]

    @property
    def languages(self) -> tuple[str, ...]:
        """Language codes available: English first, then the others sorted."""
        others = sorted(lang for lang in self.texts if lang != REFERENCE_LANGUAGE)
        return (REFERENCE_LANGUAGE, *others)

    def has(self, key: str) -> bool:
        """Whether ``key`` exists (in English, hence in every language)."""
        return key in self.texts[REFERENCE_LANGUAGE]

    def text(self, lang: str, key: str, **params: str) -> str:
        """Return the text of ``key`` in ``lang`` (or English), filled with ``params``.

        Raises:
            KeyError: the key is not in the catalog at all, or a placeholder has
                no value. Both are programming errors: specs and the engine are
                checked against the catalog when they are loaded.
        """
        own = self.texts.get(lang, {}).get(key)
        template = own if own is not None else self.texts[REFERENCE_LANGUAGE][key]
        return template.format_map(params)

    def missing(self) -> dict[str, list[str]]:
        """Per language (English excluded), the keys absent or empty there."""
        reference = self.texts[REFERENCE_LANGUAGE]
        return {
            lang: sorted(key for key in reference if key not in self.texts[lang])
            for lang in self.languages[1:]
        }

    def missing_keys(self, keys: Iterable[str]) -> list[str]:
        """The keys among ``keys`` that the catalog lacks."""
        return sorted({key for key in keys if not self.has(key)})

    def language_name(self, lang: str) -> str:
        """The language's own name for itself, e.g. "Français", "العربية"."""
        name = str(Locale.parse(lang).get_display_name(lang) or lang)
        return name[:1].upper() + name[1:]

    def direction(self, lang: str) -> str:
        """``"rtl"`` or ``"ltr"``: how a client should lay out this language."""
        return "rtl" if Locale.parse(lang).text_direction == "rtl" else "ltr"


def load_catalog(directory: Path | None = None) -> Catalog:
    """Load every ``<lang>.po`` file of ``directory`` (default: the shipped ones).

    Raises:
        CatalogError: no English file, a file name that is not a language code,
            a malformed placeholder, or a translation whose placeholders differ
            from the English ones.
    """
    folder = directory if directory is not None else _DEFAULT_DIR
    texts: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.po")):
        if not _LANG_RE.match(path.stem):
            raise CatalogError(path, None, "file name must be a language code, like fr.po")
        texts[path.stem] = _read_language(path)
    if REFERENCE_LANGUAGE not in texts:
        raise CatalogError(folder / "en.po", None, "the English catalog is required")
    reference_path = folder / f"{REFERENCE_LANGUAGE}.po"
    wanted = {
        key: _placeholders(text, reference_path, key)
        for key, text in texts[REFERENCE_LANGUAGE].items()
    }
    for lang, entries in texts.items():
        path = folder / f"{lang}.po"
        for key, text in entries.items():
            if key not in wanted:
                raise CatalogError(path, key, "key is not in the English catalog")
            found = _placeholders(text, path, key)
            if found != wanted[key]:
                raise CatalogError(
                    path,
                    key,
                    f"placeholders {sorted(found)} differ from English {sorted(wanted[key])}",
                )
    return Catalog(texts=texts)
