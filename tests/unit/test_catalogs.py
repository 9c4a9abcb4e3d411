"""The Fluent catalogs agree across locales: same ids, placeholders and variants, and all render.

Every `messages/<locale>/*.ftl` file is checked, so catalogs added later are covered without
touching this module. Each test collects every problem first and fails once with the full list,
so a translator sees all the gaps in one run.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fluent.syntax import FluentParser, ast
from fluent.syntax.serializer import serialize_expression
from fluent.syntax.visitor import Visitor

import messages
from bot.domain.cases import Status
from bot.domain.categories import CATEGORIES, GROUPS

LOCALES: tuple[str, ...] = messages.LOCALES
# Which dummy value a placeholder gets when it is an argument of a Fluent function.
FUNCTION_DUMMIES: dict[str, Any] = {"NUMBER": 1, "DATETIME": datetime(2026, 1, 1, 12, 0)}


class _Inspector(Visitor):
    """Placeholders, select expressions and function arguments of one message or term."""

    def __init__(self) -> None:
        super().__init__()
        self.variables: set[str] = set()
        self.selects: list[ast.SelectExpression] = []
        self.function_args: dict[str, str] = {}

    def visit_VariableReference(self, node: ast.VariableReference) -> None:
        self.variables.add(node.id.name)
        self.generic_visit(node)

    def visit_SelectExpression(self, node: ast.SelectExpression) -> None:
        self.selects.append(node)
        self.generic_visit(node)

    def visit_FunctionReference(self, node: ast.FunctionReference) -> None:
        for arg in node.arguments.positional:
            if isinstance(arg, ast.VariableReference):
                self.function_args[arg.id.name] = node.id.name
        self.generic_visit(node)

    def visit_Comment(self, node: ast.BaseNode) -> None:
        pass  # comments carry no placeholders

    visit_GroupComment = visit_ResourceComment = visit_Comment


def _variant_key(variant: ast.Variant) -> str:
    key = variant.key
    return key.name if isinstance(key, ast.Identifier) else key.value


@dataclass
class Entry:
    """One message (`id`) or term (`-id`) of one locale."""

    id: str
    path: Path
    has_value: bool
    variables: set[str]
    # Per select expression: (selector, variant keys, default key), sorted for comparison.
    selectors: list[tuple[str, tuple[str, ...], str]]
    # Variants to try when rendering: variable name -> variant keys selected on it.
    variants: dict[str, set[str]] = field(default_factory=dict)
    function_args: dict[str, str] = field(default_factory=dict)


@dataclass
class Catalog:
    """Everything parsed from one locale's folder."""

    locale: str
    entries: dict[str, Entry] = field(default_factory=dict)
    junk: list[tuple[Path, str]] = field(default_factory=list)
    duplicates: list[tuple[str, Path, Path]] = field(default_factory=list)


def _entry(node: ast.Message | ast.Term, path: Path) -> Entry:
    inspector = _Inspector()
    inspector.visit(node.value)
    inspector.visit(node.attributes)
    selectors = []
    variants: dict[str, set[str]] = {}
    for select in inspector.selects:
        keys = tuple(sorted(_variant_key(v) for v in select.variants))
        default = next(_variant_key(v) for v in select.variants if v.default)
        selectors.append((serialize_expression(select.selector), keys, default))
        if isinstance(select.selector, ast.VariableReference):
            variants.setdefault(select.selector.id.name, set()).update(keys)
    name = node.id.name if isinstance(node, ast.Message) else f"-{node.id.name}"
    return Entry(
        id=name,
        path=path,
        has_value=node.value is not None,
        variables=inspector.variables,
        selectors=sorted(selectors),
        variants=variants,
        function_args=inspector.function_args,
    )


@cache
def catalog(locale: str) -> Catalog:
    result = Catalog(locale)
    parser = FluentParser(with_spans=False)
    for path in messages.catalog_files(locale):
        resource = parser.parse(path.read_text(encoding="utf-8"))
        for node in resource.body:
            if isinstance(node, ast.Junk):
                result.junk.append((path, node.content.strip()))
            elif isinstance(node, ast.Message | ast.Term):
                entry = _entry(node, path)
                if entry.id in result.entries:
                    result.duplicates.append((entry.id, result.entries[entry.id].path, path))
                else:
                    result.entries[entry.id] = entry
    return result


def _rel(path: Path) -> str:
    return str(path.relative_to(messages.CATALOG_DIR.parent))


def _all_ids() -> list[str]:
    return sorted(set().union(*(catalog(locale).entries for locale in LOCALES)))


def _fail(title: str, problems: list[str]) -> None:
    if problems:
        pytest.fail(f"{title} ({len(problems)}):\n  " + "\n  ".join(problems), pytrace=False)


def test_every_locale_has_catalog_files():
    problems = [f"{locale}: no .ftl files" for locale in LOCALES if not catalog(locale).entries]
    _fail("empty locales", problems)


def test_catalog_files_parse_without_junk():
    problems = [
        f"{_rel(path)}: cannot parse:\n    " + content.replace("\n", "\n    ")
        for locale in LOCALES
        for path, content in catalog(locale).junk
    ]
    _fail("Fluent syntax errors", problems)


def test_no_message_id_is_defined_twice_in_a_locale():
    problems = [
        f"{locale}: {id_} in {_rel(first)} and again in {_rel(second)} (the second is ignored)"
        for locale in LOCALES
        for id_, first, second in catalog(locale).duplicates
    ]
    _fail("duplicate message ids", problems)


def test_every_message_exists_in_every_locale():
    problems = []
    for id_ in _all_ids():
        present = {loc: catalog(loc).entries[id_] for loc in LOCALES if id_ in catalog(loc).entries}
        missing = [loc for loc in LOCALES if loc not in present]
        if missing:
            where = ", ".join(f"{loc}: {_rel(e.path)}" for loc, e in present.items())
            problems.append(f"{id_}: missing in {', '.join(missing)} (defined in {where})")
    _fail("messages missing from a locale", problems)


def _compare(describe) -> list[str]:
    """Problems for ids whose `describe(entry)` differs between the locales that have them."""
    problems = []
    for id_ in _all_ids():
        seen = {
            loc: describe(catalog(loc).entries[id_])
            for loc in LOCALES
            if id_ in catalog(loc).entries
        }
        if len({repr(v) for v in seen.values()}) > 1:
            detail = "; ".join(f"{loc}: {value}" for loc, value in seen.items())
            problems.append(f"{id_}: {detail}")
    return problems


def test_placeholders_match_across_locales():
    _fail(
        "placeholders differ between locales",
        _compare(lambda e: sorted(f"${name}" for name in e.variables)),
    )


# CLDR plural categories: a plural selector is each language's own (English has one and other,
# Chinese and Tibetan need none), so it is not compared; numeric keys ([0]) go with them.
PLURAL_CATEGORIES = {"zero", "one", "two", "few", "many", "other"}


def _is_plural(keys: tuple[str, ...]) -> bool:
    return "other" in keys and all(k in PLURAL_CATEGORIES or k.isdigit() for k in keys)


def test_selector_variants_match_across_locales():
    def describe(entry: Entry) -> list[str]:
        return [
            f"{{ {selector} -> {' '.join(f'*[{k}]' if k == default else f'[{k}]' for k in keys)} }}"
            for selector, keys, default in entry.selectors
            if not _is_plural(keys)
        ]

    _fail("selector variants differ between locales", _compare(describe))


def _required_ids() -> list[str]:
    return (
        [c.message_key for c in CATEGORIES]
        + [f"group-{group}" for group in GROUPS]
        + [f"status-{status.value}" for status in Status]
    )


def test_domain_categories_groups_and_states_have_messages_in_every_locale():
    assert all(c.message_key == f"category-{c.code}" for c in CATEGORIES)
    problems = [
        f"{id_}: missing in {locale}"
        for id_ in _required_ids()
        for locale in LOCALES
        if id_ not in catalog(locale).entries
    ]
    _fail("domain values without a message", problems)


def _argument_sets(entry: Entry) -> list[dict[str, Any]]:
    """Dummy args for every placeholder, then once more per variant key of each selector."""
    base = {
        name: FUNCTION_DUMMIES.get(entry.function_args.get(name, ""), "x")
        for name in entry.variables
    }
    tries = [base]
    for name, keys in sorted(entry.variants.items()):
        for key in sorted(keys):
            value: Any = key
            with contextlib.suppress(ValueError):  # numeric variant keys select on numbers
                value = float(key) if "." in key else int(key)
            tries.append({**base, name: value})
    return tries


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_renders(locale: str, caplog: pytest.LogCaptureFixture):
    problems = []
    for id_, entry in sorted(catalog(locale).entries.items()):
        if id_.startswith("-") or not entry.has_value:
            continue  # terms and attribute-only messages are not rendered on their own
        for args in _argument_sets(entry):
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger=messages.__name__):
                try:
                    rendered = messages.text(locale, id_, **args)
                except Exception as exc:
                    problems.append(f"{id_} {args}: raised {exc!r}")
                    continue
            if rendered == id_ or not rendered.strip():
                problems.append(f"{id_} {args}: rendered as {rendered!r}")
            problems.extend(f"{id_} {args}: {record.getMessage()}" for record in caplog.records)
    _fail(f"messages that do not render in {locale}", problems)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-hans", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("bo", "bo"),
        ("en-US", "en"),
        (None, "zh-Hans"),
        ("fr", "zh-Hans"),
    ],
)
def test_normalize_locale(code: str | None, expected: str):
    assert messages.normalize_locale(code) == expected
