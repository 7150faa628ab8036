"""Locate hotline tickets from their Chinese address text (pure, WGS-84).

A :class:`Gazetteer` knows named places of Foshan at five precisions, finest
first: ``poi`` (a landmark, bridge, car park, station), ``road``, ``street``
(a 街道 or 镇), ``district`` (区) and ``city``. :meth:`Gazetteer.locate` finds
the finest place a text names and returns its WGS-84 point with an
``uncertainty_m``: the radius in metres around that point expected to contain
the named place (its extent plus the error of the gazetteer's own estimate;
see ``geo/data/GAZETTEER_PROVENANCE.md``).

Matching, in order:

1. Normalise: NFKC (full-width digits, letters and punctuation become
   half-width), then drop whitespace and punctuation.
2. Tokenise by longest match against every name and alias (one pass with a
   first-character index), so ``祖庙路`` is the road, not the temple 祖庙, and
   ``通济桥停车场`` is the car park, not the bridge. Province and city prefixes
   need no stripping: ``广东省`` matches nothing and ``佛山市`` is the coarsest
   entry. 街道/镇 names also match their usual variants (``石湾镇街道``,
   ``石湾街道``, ``石湾镇``, ``石湾街``, ``石湾镇街``).
3. Consistency: when the text names a district (or, failing that, a 街道/镇),
   places in other districts are ignored, so ``顺德区同济路`` is 顺德区 rather
   than Chancheng's 同济路. A name shared by places in several districts that
   the text does not disambiguate is ignored. A text that names another city
   (广州, 深圳 …) but neither 佛山 nor one of its districts is not located.
4. The finest remaining place wins; at equal precision, the first mentioned.
   ``附近`` and similar words right after it widen the uncertainty.

Nothing matched means None: there is no fallback to the city centre, though a
text naming only 佛山 gives precision ``city``.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Final, Literal, get_args

Precision = Literal["poi", "road", "street", "district", "city"]
"""How precisely a text was located, finest first."""

PRECISIONS: Final[tuple[Precision, ...]] = get_args(Precision)
"""All precisions, finest first."""

GAZETTEER_FILE: Final = "foshan_gazetteer.csv"
CSV_FIELDS: Final = (
    "name", "name_en", "aliases", "level", "adcode", "lat", "lon", "uncertainty_m", "source",
)  # fmt: skip
"""Columns of the gazetteer CSV; ``name_en`` is required (English name); ``aliases`` are
separated by ``|``; lat/lon WGS-84 degrees."""

NEAR_WORDS: Final = ("附近", "周边", "周围", "一带", "旁边", "对面")
NEAR_PADDING_M: Final = 300.0
"""Added to the uncertainty when a near-word follows the name: the caller is near it, not at it."""

OTHER_CITIES: Final = (
    "广州", "广州市", "深圳", "深圳市", "东莞", "东莞市", "中山市", "江门", "江门市", "肇庆",
    "肇庆市", "清远", "清远市", "珠海", "珠海市", "云浮", "云浮市", "香港", "澳门",
)  # fmt: skip
"""Other cities (bare 中山 is left out: 中山路 and 中山公园 are everywhere). A text that
names one and nothing of Foshan is about a place elsewhere, whose road names may
well repeat Foshan's."""

_RANK: Final[dict[str, int]] = {p: i for i, p in enumerate(PRECISIONS)}
_LEVELS: Final[dict[str, Precision]] = {p: p for p in PRECISIONS}
_STREET_SUFFIXES: Final = ("镇街道", "街道", "镇街", "镇", "街")  # longest first
_DROP: Final = re.compile(r"[\W_]+")  # after NFKC: whitespace, punctuation, symbols


@dataclass(frozen=True, slots=True)
class Geocode:
    """Where an address text points: WGS-84 ``lat``/``lon`` degrees, the ``precision``
    reached, the gazetteer name ``matched`` (街道/镇 prefixed with their district,
    e.g. ``禅城区祖庙街道``) and ``uncertainty_m``, a radius in metres."""

    lat: float
    lon: float
    precision: Precision
    matched: str
    uncertainty_m: float


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    """One named place: ``name`` in simplified Chinese, ``name_en`` its English name
    (for display only: addresses are matched on ``name`` and ``aliases``),
    ``lat``/``lon`` WGS-84 degrees, ``uncertainty_m`` metres, ``adcode`` of its
    district (``440600`` for the city itself)."""

    name: str
    name_en: str
    aliases: tuple[str, ...]
    level: Precision
    adcode: str
    lat: float
    lon: float
    uncertainty_m: float
    source: str


@dataclass(frozen=True, slots=True)
class _Mention:
    """A name found at ``norm[start:end]``; no ``entries`` means another city."""

    start: int
    end: int
    entries: tuple[GazetteerEntry, ...]


def normalise(text: str) -> str:
    """NFKC-fold ``text`` and drop whitespace, punctuation and symbols."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text))


def street_variants(name: str) -> tuple[str, ...]:
    """``name`` of a 街道/镇 and its usual suffix variants (the name itself first)."""
    for suffix in _STREET_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and len(base) >= 2:
            return (name, *(base + s for s in _STREET_SUFFIXES if base + s != name))
    return (name,)


class Gazetteer:
    """An immutable index of :class:`GazetteerEntry` for :meth:`locate`.

    Raises :class:`ValueError` when two entries of one district share a name or
    alias (the text could never tell them apart).
    """

    __slots__ = ("_by_alias", "_district_names", "_entries", "_lengths")

    def __init__(self, entries: Iterable[GazetteerEntry]) -> None:
        self._entries = tuple(entries)
        self._district_names = {e.adcode: e.name for e in self._entries if e.level == "district"}
        by_alias: dict[str, list[GazetteerEntry]] = {}
        explicit: set[str] = set()
        for entry in self._entries:
            for alias in (entry.name, *entry.aliases):
                key = normalise(alias)
                self._add(by_alias, key, entry)
                explicit.add(key)
        # Generated variants never shadow a name someone wrote down.
        for entry in self._entries:
            if entry.level == "street":
                for variant in street_variants(normalise(entry.name))[1:]:
                    if variant not in explicit and entry not in by_alias.get(variant, ()):
                        self._add(by_alias, variant, entry)
        self._by_alias = {k: tuple(v) for k, v in by_alias.items()}
        for city in OTHER_CITIES:
            self._by_alias.setdefault(normalise(city), ())
        lengths: dict[str, set[int]] = {}
        for key in self._by_alias:
            lengths.setdefault(key[0], set()).add(len(key))
        self._lengths = {c: tuple(sorted(ls, reverse=True)) for c, ls in lengths.items()}

    @staticmethod
    def _add(by_alias: dict[str, list[GazetteerEntry]], key: str, entry: GazetteerEntry) -> None:
        if not key:
            raise ValueError(f"{entry.name!r}: a name or alias is empty after normalising")
        others = by_alias.setdefault(key, [])
        if entry in others:
            return
        for other in others:
            if other.adcode == entry.adcode:
                raise ValueError(f"{key!r} names both {other.name!r} and {entry.name!r}")
        others.append(entry)

    @property
    def entries(self) -> tuple[GazetteerEntry, ...]:
        """Every entry, in the order given."""
        return self._entries

    def label(self, entry: GazetteerEntry) -> str:
        """The name reported in :attr:`Geocode.matched`: 街道/镇 carry their district."""
        if entry.level == "street":
            return self._district_names.get(entry.adcode, "") + entry.name
        return entry.name

    def _scan(self, norm: str) -> list[_Mention]:
        """Longest match at each position; matches inside an earlier, longer one dropped."""
        found: list[_Mention] = []
        reach = 0  # end of the furthest-reaching match so far
        lengths_of = self._lengths
        by_alias = self._by_alias
        for i, char in enumerate(norm):
            lengths = lengths_of.get(char)
            if lengths is None:
                continue
            for n in lengths:
                hit = by_alias.get(norm[i : i + n])
                if hit is not None:
                    if i + n > reach:
                        found.append(_Mention(i, i + n, hit))
                        reach = i + n
                    break
        return found

    def locate(self, address: str) -> Geocode | None:
        """The finest consistent place ``address`` names, or None if it names none.

        Never raises for any ``str``; see the module docstring for the rules.
        """
        norm = normalise(address)
        mentions = self._scan(norm)
        if not mentions:
            return None
        named = _named_districts(mentions)
        if any(not m.entries for m in mentions) and not _names_foshan(mentions):
            return None
        best: tuple[int, int, GazetteerEntry, int] | None = None  # rank, start, entry, end
        for m in mentions:
            fits = [e for e in m.entries if _consistent(e, named)]
            if len(fits) != 1:
                continue  # another district than the one named, or ambiguous
            rank = _RANK[fits[0].level]
            if best is None or (rank, m.start) < best[:2]:
                best = (rank, m.start, fits[0], m.end)
        if best is None:
            return None
        _, _, entry, end = best
        uncertainty = entry.uncertainty_m
        if norm.startswith(NEAR_WORDS, end):
            uncertainty += NEAR_PADDING_M
        return Geocode(entry.lat, entry.lon, entry.level, self.label(entry), uncertainty)


def _consistent(entry: GazetteerEntry, named: frozenset[str]) -> bool:
    """True unless the text names districts and ``entry`` lies in none of them."""
    return not named or entry.adcode in named or entry.level == "city"


def _names_foshan(mentions: list[_Mention]) -> bool:
    """True when the text names Foshan or one of its districts (街道 names repeat nationally)."""
    return any(e.level in ("district", "city") for m in mentions for e in m.entries)


def _named_districts(mentions: list[_Mention]) -> frozenset[str]:
    """Adcodes of the districts the text names; else those its 街道/镇 imply; else none."""
    for level in ("district", "street"):
        named = frozenset(e.adcode for m in mentions for e in m.entries if e.level == level)
        if named:
            return named
    return frozenset()


def parse_gazetteer_csv(text: str) -> tuple[GazetteerEntry, ...]:
    """Parse the gazetteer CSV (columns :data:`CSV_FIELDS`); ValueError names the bad line.

    Every row needs a non-blank ``name_en``; it is kept as written.
    """
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != CSV_FIELDS:
        raise ValueError(f"gazetteer header {reader.fieldnames} != {list(CSV_FIELDS)}")
    entries = []
    for row in reader:
        where = f"gazetteer line {reader.line_num} ({row.get('name')!r})"
        name_en = row["name_en"] or ""
        if not name_en.strip():
            raise ValueError(f"{where}: name_en (the English name) is missing or empty")
        level = _LEVELS.get(row["level"])
        if level is None:
            raise ValueError(f"{where}: level {row['level']!r} not one of {PRECISIONS}")
        try:
            lat, lon, radius = float(row["lat"]), float(row["lon"]), float(row["uncertainty_m"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from exc
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError(f"{where}: lat/lon out of range")
        if not (math.isfinite(radius) and radius > 0.0):
            raise ValueError(f"{where}: uncertainty_m must be a positive number of metres")
        aliases = tuple(a for a in row["aliases"].split("|") if a)
        entries.append(
            GazetteerEntry(
                row["name"], name_en, aliases, level, row["adcode"], lat, lon, radius, row["source"]
            )
        )
    return tuple(entries)


def load_gazetteer(path: str | Path | None = None) -> Gazetteer:
    """Load a gazetteer CSV; ``None`` gives the shipped Foshan gazetteer, built once and cached."""
    if path is None:
        return _default_gazetteer()
    return Gazetteer(parse_gazetteer_csv(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _default_gazetteer() -> Gazetteer:
    text = resources.files("geo").joinpath("data", GAZETTEER_FILE).read_text(encoding="utf-8")
    return Gazetteer(parse_gazetteer_csv(text))
