"""The commodity classification a limit is looked up through (pure: no database code).

A limit may be set for a commodity (豇豆) or for one of its groups (豆类蔬菜, 蔬菜): GB 2763-2021
Appendix A classifies plant products into groups and subgroups, and GB 31650-2019 states veterinary-drug
limits per target tissue, several of them for "all food-producing animals". The classification is a tree,
shipped as data (``commodity_classification.csv``: code, name_zh, name_en, parent_code, kind, aliases,
source) and seeded into the ``commodity`` table, where a lab may add its own commodities under it.

The rule (CONTRACTS.md, Limits): a limit set for the commodity itself wins over one set for its
subgroup, a subgroup's over its group's — the nearest node on the way up wins. A ban (MARA
Announcement No. 250) applies whatever the limit table says for the commodity: see :func:`choose`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Generic, Protocol, TypeVar

from lims import csvio
from lims.vocabulary import CommodityLevel, MatchedVia

__all__ = [
    "CLASSIFICATION_FILE",
    "ClassificationError",
    "CommodityClass",
    "Match",
    "choose",
    "load_classification",
    "parse_classification",
]

CLASSIFICATION_FILE = "commodity_classification.csv"
COLUMNS = ("code", "name_zh", "name_en", "parent_code", "kind", "aliases", "source")
REQUIRED = ("code", "name_zh", "name_en", "kind")


class ClassificationError(ValueError):
    """The classification file is unusable; names the file, the line and the field."""

    def __init__(self, message: str, *, source: str, line: int | None = None, field: str | None = None) -> None:
        self.source, self.line, self.field = source, line, field
        where = [source] + ([f"line {line}"] if line is not None else []) + ([f"field '{field}'"] if field else [])
        super().__init__(f"{', '.join(where)}: {message}")


@dataclass(frozen=True)
class CommodityClass:
    """One node of the classification: a group, a subgroup or a commodity."""

    line: int
    code: str
    name_zh: str
    name_en: str
    parent_code: str | None
    kind: CommodityLevel
    aliases: tuple[str, ...]
    source: str

    @property
    def names(self) -> tuple[str, ...]:
        """Every name it is found by: code, Chinese and English names, aliases."""
        return (self.code, self.name_zh, self.name_en, *self.aliases)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def parse_classification(text: str, *, source: str = CLASSIFICATION_FILE) -> tuple[CommodityClass, ...]:
    """Every node of the file, parents before children. All or nothing: the first problem raises
    :class:`ClassificationError` naming its line and field (unknown kind, unknown or later parent, a code,
    name or alias used twice)."""
    try:
        table = csvio.CsvTable(text, source=source, comment="#")
        table.require(REQUIRED)
        rows = list(table.rows(COLUMNS))
    except csvio.CsvError as exc:
        raise ClassificationError(exc.detail, source=source, line=exc.line, field=exc.field) from None
    nodes: list[CommodityClass] = []
    codes: dict[str, CommodityClass] = {}
    names: dict[str, int] = {}
    for row in rows:
        node = _node(row, source, codes)
        fields = ("code", "name_zh", "name_en", *("aliases",) * len(node.aliases))
        for field, name in zip(fields, node.names, strict=True):
            first = names.setdefault(_fold(name), row.line)
            if first != row.line:
                raise ClassificationError(f"{name!r} is already a code or name on line {first}", source=source,
                                          line=row.line, field=field)
        codes[node.code] = node
        nodes.append(node)
    return tuple(nodes)


def _node(row: csvio.CsvRow, source: str, known: Mapping[str, CommodityClass]) -> CommodityClass:
    v = {k: " ".join(row.values.get(k, "").split()) for k in COLUMNS}
    for col in REQUIRED:
        if not v[col]:
            raise ClassificationError("value is missing", source=source, line=row.line, field=col)
    try:
        kind = CommodityLevel(v["kind"])
    except ValueError:
        allowed = ", ".join(k.value for k in CommodityLevel)
        raise ClassificationError(f"unknown kind {v['kind']!r}; allowed: {allowed}", source=source,
                                  line=row.line, field="kind") from None
    parent = v["parent_code"] or None
    if parent is not None and parent not in known:
        raise ClassificationError(f"parent {parent!r} is not defined on an earlier line", source=source,
                                  line=row.line, field="parent_code")
    if parent is None and kind is not CommodityLevel.GROUP:
        raise ClassificationError("only a group may have no parent", source=source, line=row.line,
                                  field="parent_code")
    aliases = tuple(a.strip() for a in v["aliases"].split("|") if a.strip())
    return CommodityClass(row.line, v["code"], v["name_zh"], v["name_en"], parent, kind, aliases, v["source"])


def load_classification() -> tuple[CommodityClass, ...]:
    """The classification shipped with the package (``lims/limits/commodity_classification.csv``)."""
    data = resources.files("lims.limits").joinpath(CLASSIFICATION_FILE).read_bytes()
    return parse_classification(csvio.decode(data, source=CLASSIFICATION_FILE), source=CLASSIFICATION_FILE)


# ------------------------------------------------------------------------------------ choosing the row


class _Candidate(Protocol):
    """A limit row as :func:`choose` needs it."""

    @property
    def limit_type(self) -> str: ...

    @property
    def valid_from(self) -> dt.date | None: ...

    @property
    def valid_until(self) -> dt.date | None: ...


#: A limit row: anything with ``limit_type``, ``valid_from`` and ``valid_until`` (see :class:`_Candidate`;
#: not a bound, so that ORM rows, whose attributes are descriptors, qualify).
C = TypeVar("C")

#: Among several rows set on the same node, the one a result is judged against: a ban first (it applies
#: whatever else is written), then a maximum residue limit, an extraneous one, then rows that set none.
_TYPE_ORDER = {"banned": 0, "MRL": 1, "EMRL": 2, "MRPL": 3, "none": 4}


@dataclass(frozen=True)
class Match(Generic[C]):
    """The row chosen, at which level of the chain, and why."""

    row: C
    depth: int  # 0: the commodity itself; 1: its parent; …
    matched_via: MatchedVia
    banned: bool


def _type(row: Any) -> str:
    return str(row.limit_type)


def in_force(row: _Candidate | Any, on: dt.date | None) -> bool:
    """True when the row applies on ``on`` (None: any date)."""
    if on is None:
        return True
    return (row.valid_from is None or row.valid_from <= on) and (row.valid_until is None or on <= row.valid_until)


def choose(rows_by_level: Sequence[Iterable[C]], on: dt.date | None = None) -> Match[C] | None:
    """The row a result is judged against. ``rows_by_level[0]`` are the rows set for the commodity itself,
    ``[1]`` those of its parent, and so on up to its group. Rows not in force on ``on`` are ignored.

    A ban anywhere on the way up wins (MARA Announcement No. 250: prohibited in every food animal,
    whatever limit a row states); otherwise the nearest level with a row wins (the commodity's own over
    its subgroup's over its group's)."""
    levels = [sorted((r for r in rows if in_force(r, on)), key=lambda r: _TYPE_ORDER.get(_type(r), 9))
              for rows in rows_by_level]
    for depth, rows in enumerate(levels):
        for row in rows:
            if _type(row) == "banned":
                return Match(row, depth, MatchedVia.COMMODITY if depth == 0 else MatchedVia.GROUP, True)
    for depth, rows in enumerate(levels):
        if rows:
            return Match(rows[0], depth, MatchedVia.COMMODITY if depth == 0 else MatchedVia.GROUP, False)
    return None
