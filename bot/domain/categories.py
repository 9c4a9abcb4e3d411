"""Pollution categories as the bureau groups them, and which are urgent by nature."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    group: str
    urgent: bool = False

    @property
    def message_key(self) -> str:
        return f"category-{self.code}"


GROUPS: tuple[str, ...] = ("air", "water", "waste", "noise", "ecology", "other")

CATEGORIES: tuple[Category, ...] = (
    Category("air-dust", "air"),  # dust and sand
    Category("air-construction", "air"),  # construction dust
    Category("air-burning", "air"),  # burning and smoke, including 煨桑 incense smoke
    Category("air-vehicle", "air"),  # vehicle exhaust
    Category("water-outfall", "water"),  # sewage outfall
    Category("water-river", "water"),  # river or lake pollution
    Category("water-drinking", "water", urgent=True),  # drinking-water source
    Category("waste-household", "waste"),  # household rubbish, plastic "white pollution"
    Category("waste-hazardous", "waste", urgent=True),
    Category("waste-manure", "waste"),  # livestock manure
    Category("waste-kitchen", "waste"),
    Category("noise", "noise"),
    Category("ecology-reserve", "ecology"),  # nature reserves
    Category("ecology-wildlife", "ecology"),
    Category("other", "other"),
)

BY_CODE: dict[str, Category] = {c.code: c for c in CATEGORIES}


def in_group(group: str) -> tuple[Category, ...]:
    return tuple(c for c in CATEGORIES if c.group == group)


def get(code: str) -> Category | None:
    return BY_CODE.get(code)
