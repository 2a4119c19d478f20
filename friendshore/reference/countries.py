"""Country code normalisation: everything becomes ISO 3166 alpha-3 at the interfaces.

Codes friendshore uses beside ISO3 (all in ISO's user-assigned ``X..`` range, so
they can never collide with a real country):

* ``X`` + three-digit source code (``X697``, ``X899``): an area a source names but
  that is no country ("Europe EFTA, nes", "Areas, nes"). Kept distinct, never merged
  into a country.
* ``XRW``: "rest of world, unspecified" — the part of a reported World total that
  the listed partners do not account for (Comtrade downloads of a few partners).
* ``XOT``: USGS "Other countries", one unspecified producer.
* ``WLD``: a published world total (USGS "World total (rounded)"); never a supplier.

Numeric trade codes (UN Comtrade / M49, BACI) go through the bundled
``data/countries/countries.csv``, which knows the trade-specific codes
(251 France, 579 Norway, 699 India, 757 Switzerland, 842 USA, 490 Taiwan).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from friendshore._assets import data_path

REST_OF_WORLD = "XRW"
OTHER_COUNTRIES = "XOT"
WORLD_TOTAL = "WLD"
WORLD_CODE = 0  # UN Comtrade partner code of the World aggregate

SPECIAL_NAMES = {
    REST_OF_WORLD: "Rest of world, unspecified",
    OTHER_COUNTRIES: "Other countries (unspecified)",
    WORLD_TOTAL: "World total",
}


@dataclass(frozen=True)
class Country:
    """One row of the bundled country table."""

    iso3: str
    name: str
    kind: str  # 'country' | 'aggregate' | 'unspecified'


def _rows(name: str) -> list[dict[str, str]]:
    with data_path("countries", name).open(encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        return list(csv.DictReader(lines))


@cache
def _by_code() -> dict[int, Country]:
    out: dict[int, Country] = {}
    for r in _rows("countries.csv"):
        code = int(r["m49"])
        # ISO numeric first, trade overrides later rows: keep the first name per code.
        out.setdefault(code, Country(r["iso3"], r["name"], r["kind"]))
    return out


@cache
def _by_iso3() -> dict[str, Country]:
    out: dict[str, Country] = {}
    for r in _rows("countries.csv"):
        out.setdefault(r["iso3"], Country(r["iso3"], r["name"], r["kind"]))
    for iso3, name in SPECIAL_NAMES.items():
        out[iso3] = Country(iso3, name, "unspecified")
    return out


@cache
def _by_iso2() -> dict[str, str]:
    return {r["iso2"]: r["iso3"] for r in _rows("countries.csv") if r["iso2"]}


def name_key(name: str) -> str:
    """Normalise a country name for lookup: accents, case, punctuation, spacing."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("\u00a0", " ").casefold()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


@cache
def _by_name() -> dict[str, str]:
    out: dict[str, str] = {}
    for r in _rows("countries.csv"):
        if r["kind"] == "country":
            out.setdefault(name_key(r["name"]), r["iso3"])
    for r in _rows("aliases.csv"):
        out[name_key(r["alias"])] = r["iso3"]
    return out


def from_trade_code(code: int) -> str | None:
    """ISO3 (or ``X…`` area code) for a UN Comtrade / M49 numeric code, else None."""
    c = _by_code().get(code)
    return c.iso3 if c else None


def is_aggregate_code(code: int) -> bool:
    """True for Comtrade partner aggregates (World, EU, '… nes'): never suppliers."""
    c = _by_code().get(code)
    return c is not None and c.kind == "aggregate"


def unspecified_code(code: int) -> str:
    """The distinct code for a source area that names no country, e.g. ``X697``."""
    return f"X{code:03d}"


RESIDUAL_PATTERN = r"^(X\d{3}|XRW|XOT|WLD)$"


def is_residual(iso3: str | None) -> bool:
    """True for a residual or unspecified area: ``XRW``, ``XOT``, ``WLD``, ``X`` + code.

    DESIGN.md "Residual and unspecified areas": such a code counts in every total
    and nowhere else — never an importer row, a top supplier or exporter, a
    concern, ally or partner, nor a flag's supplier. Kosovo's ``XKX`` is a country.
    """
    return iso3 is not None and re.fullmatch(RESIDUAL_PATTERN, iso3) is not None


def from_name(name: str) -> str | None:
    """ISO3 for a country name (ISO names, common names, USGS/BACI spellings)."""
    return _by_name().get(name_key(name))


def lookup(iso3: str) -> Country | None:
    """The bundled entry of an ISO3 (or friendshore special) code."""
    return _by_iso3().get(iso3)


def is_known(iso3: str) -> bool:
    """True when ``iso3`` is a known ISO3 or friendshore special code."""
    return iso3 in _by_iso3() or bool(re.fullmatch(r"X\d{3}", iso3))


def normalise(value: str | int) -> str | None:
    """Any of ISO3, ISO2, numeric trade code or name → ISO3; None when unknown."""
    if isinstance(value, int):
        return from_trade_code(value)
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return from_trade_code(int(text))
    up = text.upper()
    if len(up) == 3 and up in _by_iso3():
        return up
    if len(up) == 2 and up in _by_iso2():
        return _by_iso2()[up]
    return from_name(text)


def table_rows() -> list[tuple[str, str, str]]:
    """(iso3, name, kind) for every known code, for the store's ``countries`` table."""
    return [(c.iso3, c.name, c.kind) for c in _by_iso3().values()]
