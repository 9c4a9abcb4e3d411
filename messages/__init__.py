"""Every text a person reads, in Fluent (.ftl) catalogs per locale: messages/<locale>/*.ftl.

Fluent is a standard translators' format (Mozilla's Project Fluent, supported by Pontoon and
Weblate). Each locale is a folder; files in it are split by feature so teams do not collide.

The catalogs are compiled to Python functions once per process (fluent-compiler), so a message
renders in about a microsecond: the deadline sweep renders one per reporter and per digest, and
Fluent's interpreting runtime cost ten times that.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

from fluent_compiler.bundle import FluentBundle

LOCALES = ("zh-Hans", "bo", "en")
DEFAULT_LOCALE = "zh-Hans"
CATALOG_DIR = Path(__file__).resolve().parent

log = logging.getLogger(__name__)


def normalize_locale(code: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Map a platform language code (zh-hans, zh-CN, bo, en-US …) to one of ours."""
    if not code:
        return default
    low = code.lower()
    if low.startswith("zh"):
        return "zh-Hans"
    if low.startswith("bo"):
        return "bo"
    if low.startswith("en"):
        return "en"
    return default


def catalog_files(locale: str) -> list[Path]:
    return sorted((CATALOG_DIR / locale).glob("*.ftl"))


@cache
def _bundle(locale: str) -> FluentBundle:
    # use_isolating=False: Unicode isolation marks confuse chat clients and tests alike.
    bundle = FluentBundle.from_files(locale, catalog_files(locale), use_isolating=False)
    for error in bundle.check_messages():
        log.error("catalog %s: %s", locale, error)
    return bundle


def text(locale: str | None, key: str, **args: Any) -> str:
    """The message `key` in `locale`, falling back to the default locale, then to the key."""
    if not args:
        return _plain_text(locale, key)
    return _render(locale, key, args)


@cache
def _plain_text(locale: str | None, key: str) -> str:
    # Without arguments a message always renders the same (the catalogs are loaded once).
    return _render(locale, key, {})


def _render(locale: str | None, key: str, args: dict[str, Any]) -> str:
    for candidate in (locale or DEFAULT_LOCALE, DEFAULT_LOCALE):
        bundle = _bundle(candidate if candidate in LOCALES else DEFAULT_LOCALE)
        if bundle.has_message(key):
            rendered, errors = bundle.format(key, args)
            if errors:
                log.warning("message %s/%s: %s", candidate, key, errors)
            return str(rendered)
    log.error("missing message %s", key)
    return key


# How a list of items reads in running text. Chinese uses the enumeration comma 、. Tibetan
# separates listed items with the shad and a space (the way Tibetan prose sets off a series;
# a Latin comma looks foreign there). English writes "a, b and c".
_LIST_SEPARATORS = {"zh-Hans": ("、", "、"), "bo": ("། ", "། "), "en": (", ", " and ")}


def join_list(locale: str | None, items: list[str] | tuple[str, ...], *, more: bool = False) -> str:
    """Items as a list reads in `locale`: 甲、乙、丙 · a, b and c. With `more` (the list was
    cut short, so there is no last item to name) the items are all joined alike, then "…"."""
    sep, last = _LIST_SEPARATORS.get(locale or DEFAULT_LOCALE, _LIST_SEPARATORS[DEFAULT_LOCALE])
    mark = sep.strip()
    # An item that already ends in the mark (a Tibetan name ending in a shad) does not double it.
    head = [i.removesuffix(mark) for i in (items if more else items[:-1])]
    if more:
        return sep.join(head) + " …"
    if len(items) < 2:
        return "".join(items)
    return sep.join(head) + last + items[-1]


class Translator:
    """Text for one person's locale: `t("report-saved", number=...)`."""

    def __init__(self, locale: str | None) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE

    def __call__(self, key: str, **args: Any) -> str:
        return text(self.locale, key, **args)

    def join(self, items: list[str] | tuple[str, ...], *, more: bool = False) -> str:
        return join_list(self.locale, items, more=more)
