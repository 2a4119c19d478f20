"""Regenerate ``countries.csv`` from pycountry (ISO 3166-1 and 3166-3).

Run from the repository root: ``python data/countries/build_countries.py``.
Not shipped in the wheel's logic; the CSV it writes is the bundled table.
Source: ISO 3166-1 alpha-3 / numeric as packaged by pycountry (Debian iso-codes),
plus UN M49 / UN Comtrade reporter-partner codes that differ from ISO numeric,
UN Comtrade partner aggregates, and the friendshore pseudo codes for unspecified
areas (documented in friendshore/countries.py).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pycountry

HERE = Path(__file__).parent

# Codes UN Comtrade / CEPII BACI use where ISO numeric differs (UN Comtrade
# "Reporters/Partners" reference tables; CEPII country_codes_V*.csv).
TRADE_CODE_OVERRIDES = {
    251: ("FRA", "France (incl. Monaco)"),
    579: ("NOR", "Norway (incl. Svalbard and Jan Mayen)"),
    699: ("IND", "India"),
    757: ("CHE", "Switzerland (incl. Liechtenstein)"),
    842: ("USA", "USA (incl. Puerto Rico and US Virgin Islands)"),
    490: ("TWN", "Other Asia, nes (Taiwan)"),
    381: ("ITA", "Italy (BACI <= V2022 code)"),
    58: ("BEL", "Belgium-Luxembourg (...1998)"),
    280: ("DEU", "Former Federal Republic of Germany"),
    729: ("SDN", "Sudan"),
    736: ("SDN", "Sudan (...2011)"),
    711: ("ZAF", "Southern African Customs Union (...1999)"),
}

# Historical entities (ISO 3166-3) that appear in trade data.
FORMER = {
    200: ("CSK", "Czechoslovakia"),
    278: ("DDR", "Former Democratic Republic of Germany"),
    530: ("ANT", "Netherlands Antilles"),
    810: ("SUN", "Former USSR"),
    890: ("YUG", "Former Yugoslavia"),
    891: ("SCG", "Serbia and Montenegro"),
}

# UN Comtrade partner aggregates: never suppliers (kind=aggregate).
AGGREGATES = {
    0: "World",
    97: "EU-27",
    129: "Caribbean, nes",
    221: "Eastern Europe, nes",
    290: "Northern Africa, nes",
    472: "Africa CAMEU region, nes",
    473: "LAIA, nes",
    492: "Europe, nes",
    527: "Oceania, nes",
    536: "Neutral Zone",
    568: "Other Europe, nes",
    577: "Other Africa, nes",
    636: "Rest of America, nes",
    637: "North America and Central America, nes",
    697: "Europe EFTA, nes",
    837: "Bunkers",
    838: "Free Zones",
    839: "Special Categories",
    849: "US Misc. Pacific Isds",
    879: "Western Asia, nes",
    899: "Areas, nes",
}


# Names used by USGS, BACI, Comtrade and NATO that ISO's names do not cover.
MANUAL_ALIASES = {
    "Burma": "MMR",
    "Congo (Kinshasa)": "COD",
    "Congo (Brazzaville)": "COG",
    "Democratic Republic of the Congo": "COD",
    "Dem. Rep. of the Congo": "COD",
    "Korea, Republic of": "KOR",
    "Republic of Korea": "KOR",
    "Rep. of Korea": "KOR",
    "South Korea": "KOR",
    "Korea, North": "PRK",
    "North Korea": "PRK",
    "Russia": "RUS",
    "Russian Federation": "RUS",
    "Iran": "IRN",
    "Laos": "LAO",
    "Vietnam": "VNM",
    "Viet Nam": "VNM",
    "Turkey": "TUR",
    "Türkiye": "TUR",
    "Turkiye": "TUR",
    "United States": "USA",
    "USA": "USA",
    "United Kingdom": "GBR",
    "UK": "GBR",
    "Bolivia": "BOL",
    "Venezuela": "VEN",
    "Tanzania": "TZA",
    "Syria": "SYR",
    "Moldova": "MDA",
    "Taiwan": "TWN",
    "Other Asia, nes": "TWN",
    "Czech Republic": "CZE",
    "Czechia": "CZE",
    "Slovak Republic": "SVK",
    "Ivory Coast": "CIV",
    "Cote d'Ivoire": "CIV",
    "Côte d'Ivoire": "CIV",
    "Macedonia": "MKD",
    "North Macedonia": "MKD",
    "Brunei": "BRN",
    "Cape Verde": "CPV",
    "Eswatini": "SWZ",
    "Swaziland": "SWZ",
    "Kyrgyzstan": "KGZ",
    "Kosovo": "XKX",
    "Hong Kong": "HKG",
    "Macau": "MAC",
    "Macao": "MAC",
    "China, Hong Kong SAR": "HKG",
    "China, Macao SAR": "MAC",
    "Palestine": "PSE",
    "The Netherlands": "NLD",
    "Micronesia": "FSM",
    "New Caledonia (France)": "NCL",
    "Bosnia and Herzegovina": "BIH",
    "Bosnia Herzegovina": "BIH",
    "Gambia, The": "GMB",
    "Bahamas, The": "BHS",
    "East Timor": "TLS",
}


def _aliases() -> list[tuple[str, str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            val = getattr(c, attr, None)
            if val:
                out.setdefault(val, (c.alpha_3, "iso-3166"))
    for alias, iso3 in MANUAL_ALIASES.items():
        out[alias] = (iso3, "friendshore")
    return sorted((a, i, s) for a, (i, s) in out.items())


def main() -> None:
    rows: list[tuple[str, str, str, str, str]] = []
    seen_num: set[int] = set()
    for c in pycountry.countries:
        num = int(c.numeric)
        name = getattr(c, "common_name", None) or c.name
        rows.append((str(num), c.alpha_3, c.alpha_2, name, "country"))
        seen_num.add(num)
    # Kosovo: user-assigned XKX, used by the World Bank and many trade datasets.
    rows.append(("412", "XKX", "XK", "Kosovo", "country"))
    for num, (iso3, name) in {**TRADE_CODE_OVERRIDES, **FORMER}.items():
        if num not in seen_num:
            rows.append((str(num), iso3, "", name, "country"))
    for num, name in AGGREGATES.items():
        rows.append((str(num), f"X{num:03d}", "", name, "aggregate"))
    rows.sort(key=lambda r: (int(r[0]), r[1]))
    with (HERE / "countries.csv").open("w", newline="", encoding="utf-8") as fh:
        fh.write(
            "# source: ISO 3166-1/3166-3 via pycountry "
            f"{pycountry.__name__} (iso-codes); UN Comtrade/CEPII trade codes; "
            "see build_countries.py\n"
        )
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["m49", "iso3", "iso2", "name", "kind"])
        w.writerows(rows)
    with (HERE / "aliases.csv").open("w", newline="", encoding="utf-8") as fh:
        fh.write("# country name -> ISO3; source: iso-3166 names via pycountry, ")
        fh.write("or friendshore (names used by USGS, BACI, Comtrade, NATO)\n")
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["alias", "iso3", "source"])
        w.writerows(_aliases())


if __name__ == "__main__":
    main()
