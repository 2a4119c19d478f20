"""USGS MCS loader on the real bundled world tables (data/sources/usgs/) and the real
odd-layout files in tests/fixtures/usgs/ (see its README).

Golden values come from hand arithmetic on the published numbers or from plain
``csv``-module Python over the same raw files, never from the loader's own output.
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest

from friendshore.errors import SourceFormatError
from friendshore.sources.usgs import load_usgs, stage_of
from friendshore.store import Store

from .conftest import FIXTURES, SOURCES, table_snapshot

USGS = SOURCES / "usgs"
ODD = FIXTURES / "usgs"
RAREE_2024 = USGS / "mcs2024" / "mcs2024-raree_world.csv"
MCS2025 = USGS / "mcs2025" / "MCS2025_World_Data_critical_subset.csv"
BUNDLED = sorted(USGS.rglob("*.csv"))
ODD_FILES = sorted(ODD.glob("*.csv"))


# -- the independent route ------------------------------------------------------------


def raw_table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, cells) of non-blank records, via the csv module."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = []
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((reader.line_num, cells))
    return header, rows


def raw_number(text: str) -> float:
    return float(text.replace("\u00a0", "").replace(",", "").strip().lstrip("e"))


def expected_rows(path: Path) -> int:
    """Published cells in production columns, capacity-only Type rows left out."""
    header, rows = raw_table(path)
    prod = [
        i
        for i, h in enumerate(header)
        if re.fullmatch(r"prod_.*\d{4}", re.sub(r"\s", "", h).lower())
    ]
    type_col = 2 if "COMMODITY" not in header else 3
    n = 0
    for _, cells in rows:
        t = cells[type_col].lower()
        if "capacity" in t and "production" not in t:
            continue
        n += len(prod)
    return n


def value(store: Store, where: str, **params: object) -> list[tuple[object, ...]]:
    return store.fetchall(
        "SELECT country, quantity, unit, status, kind, is_estimate, type FROM production"
        f" WHERE {where} ORDER BY country, quantity",
        params,
    )


# -- golden: China's share of 2023 rare-earth mine production (MCS2024) ---------------


def test_china_rare_earth_share_2023_from_sql_and_from_the_raw_file(
    store: Store,
) -> None:
    load_usgs(store, [RAREE_2024])
    (china, listed, world) = store.fetchall(
        """SELECT sum(quantity) FILTER (WHERE country = 'CHN'),
                  sum(quantity) FILTER (WHERE kind <> 'world_total'),
                  sum(quantity) FILTER (WHERE kind = 'world_total')
           FROM production
           WHERE edition = 'MCS2024' AND commodity = 'rare earths'
             AND stage = 'mine' AND year = 2023"""
    )[0]
    # Independent route: the csv module over the raw file.
    header, rows = raw_table(RAREE_2024)
    col = header.index("Prod_t_est_2023")
    by_country = {cells[1]: raw_number(cells[col]) for _, cells in rows}
    raw_world = by_country.pop("World total (rounded)")
    assert (china, listed, world) == (
        by_country["China"],
        sum(by_country.values()),
        raw_world,
    )
    # And by hand from the published table: 43,000 + 18,000 + 80 + 38,000 + 0 +
    # 240,000 + 0 + 2,900 + 960 + 80 + 2,600 + 0 + 0 + 7,100 + 600 = 353,320 t.
    assert (china, listed, world) == (240_000, 353_320, 350_000)
    assert round(100 * china / listed, 1) == 67.9


def test_every_bundled_file_loads_with_one_row_per_published_cell(
    store: Store,
) -> None:
    results = load_usgs(store, [USGS / d for d in ("mcs2022", "mcs2023", "mcs2024")])
    results += load_usgs(store, [MCS2025])
    assert len(results) == len(BUNDLED) == 77
    by_name = {r.file_name: r for r in results}
    for path in BUNDLED:
        r = by_name[path.name]
        assert (r.status, r.rows) == ("loaded", expected_rows(path)), path.name
    editions = store.fetchall(
        "SELECT edition, count(DISTINCT commodity) FROM production GROUP BY 1 ORDER BY 1"
    )
    assert editions == [
        ("MCS2022", 12),
        ("MCS2023", 32),
        ("MCS2024", 32),
        ("MCS2025", 9),
    ]


def test_every_odd_layout_fixture_loads(store: Store) -> None:
    results = load_usgs(store, [ODD])
    assert [r.file_name for r in results] == [p.name for p in ODD_FILES]
    for path, r in zip(ODD_FILES, results, strict=True):
        assert (r.status, r.rows) == ("loaded", expected_rows(path)), path.name


# -- the three per-commodity layouts and MCS2025 --------------------------------------


def test_mcs2022_layout_capital_est_and_renamed_file(store: Store) -> None:
    path = USGS / "mcs2022" / "rare_earths_mcs2022-raree_world.csv"
    load_usgs(store, [path])
    header, rows = raw_table(path)
    assert header[3:5] == ["Prod_t_2020", "Prod_t_Est_2021"]
    china = next(cells for _, cells in rows if cells[1] == "China")
    got = store.fetchall(
        "SELECT year, quantity, is_estimate, edition, unit FROM production"
        " WHERE country = 'CHN' AND commodity = 'rare earths' ORDER BY year"
    )
    assert got == [
        (2020, raw_number(china[3]), False, "MCS2022", "t"),
        (2021, raw_number(china[4]), True, "MCS2022", "t"),
    ]


def test_mcs2024_gallium_footnote_marks_kg_and_primary_is_refinery(
    store: Store,
) -> None:
    load_usgs(store, [USGS / "mcs2024" / "mcs2024-galli_world.csv"])
    got = value(store, "year = 2023 AND commodity = 'gallium'")
    # Japane, "Korea, Republic ofe", Russiae, Other countries4 as published.
    assert [(c, q, u, k) for c, q, u, _, k, _, _ in got] == [
        ("CHN", 600_000, "kg", "country"),
        ("JPN", 3_000, "kg", "country"),
        ("KOR", 2_000, "kg", "country"),
        ("RUS", 5_000, "kg", "country"),
        ("USA", 0, "kg", "country"),
        ("WLD", 610_000, "kg", "world_total"),
        ("XOT", 0, "kg", "other"),
    ]
    assert store.fetchall("SELECT DISTINCT stage, type FROM production") == [
        ("refinery", "Primary production")
    ]


def test_mcs2025_long_file(store: Store) -> None:
    (result,) = load_usgs(store, [MCS2025])
    assert result.rows == expected_rows(MCS2025) == 240  # 120 rows x 2 years
    commodities = [
        r[0]
        for r in store.fetchall("SELECT DISTINCT commodity FROM production ORDER BY 1")
    ]
    # Trailing spaces trimmed ("Gallium "), "Gemanium" fixed, lower case.
    assert commodities == [
        "antimony",
        "cobalt",
        "gallium",
        "germanium",
        "graphite",
        "lithium",
        "magnesium metal",
        "rare earths",
        "tungsten",
    ]
    # "World total (rounded) 10" is the world total; PROD_EST_ 2024 is an estimate.
    assert value(store, "commodity = 'antimony' AND kind = 'world_total'") == [
        (
            "WLD",
            100_000,
            "t",
            None,
            "world_total",
            True,
            "Mine production, antimony content",
        ),
        (
            "WLD",
            106_000,
            "t",
            None,
            "world_total",
            False,
            "Mine production, antimony content",
        ),
    ]
    units = store.fetchall(
        "SELECT commodity, any_value(unit) FROM production"
        " WHERE commodity IN ('gallium', 'magnesium metal') GROUP BY 1 ORDER BY 1"
    )
    assert units == [("gallium", "kg"), ("magnesium metal", "kt")]
    # Germanium: every cell empty in MCS2025 -> listed rows, no figure, no status.
    assert store.fetchall(
        "SELECT count(*), count(quantity), count(status) FROM production"
        " WHERE commodity = 'germanium'"
    ) == [(16, 0, 0)]
    # "Canada " (trailing space) and "Other Countries" resolve.
    assert value(
        store, "commodity = 'cobalt' AND year = 2024 AND country IN ('CAN', 'XOT')"
    )[0][:2] == ("CAN", 4_500)


def test_mcs2025_and_mcs2024_keep_their_own_editions(store: Store) -> None:
    load_usgs(store, [RAREE_2024, MCS2025])
    got = store.fetchall(
        "SELECT edition, quantity, is_estimate FROM production WHERE country = 'CHN'"
        " AND commodity = 'rare earths' AND year = 2023 ORDER BY edition"
    )
    header, rows = raw_table(MCS2025)
    raw = next(
        c for _, c in rows if c[1].strip() == "Rare earths" and c[2].strip() == "China"
    )
    assert got == [
        ("MCS2024", 240_000, True),
        ("MCS2025", raw_number(raw[header.index("PROD_2023")]), False),
    ]


# -- quirks, one real file each ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "where", "expected"),
    [
        (  # no Type header: named by the Type text
            ODD / "mcs2024-fluor_world.csv",
            "country = 'CHN' AND year = 2023",
            [("CHN", 5_700, "kt", None, "country", True, "Mine production, fluorspar")],
        ),
        (  # "e3,900": USGS estimate mark glued to the number
            ODD / "mcs2024-sandi_world.csv",
            "country IN ('ARG', 'XOT') AND year = 2022",
            [
                (
                    "ARG",
                    3_900,
                    "kt",
                    None,
                    "country",
                    True,
                    "Mine production, industrial sand and gravel",
                ),
                (
                    "XOT",
                    24_000,
                    "kt",
                    None,
                    "other",
                    True,
                    "Mine production, industrial sand and gravel",
                ),
            ],
        ),
        (  # empty Source (edition from the file name) and empty Type; Germany6
            ODD / "mcs2024-fepig_world.csv",
            "country = 'DEU' AND year = 2022 AND edition = 'MCS2024'",
            [("DEU", 323_000, "t", None, "country", True, None)],
        ),
        (  # United\u00a0States
            ODD / "mcs2024-garne_world.csv",
            "country = 'USA' AND year = 2022",
            [("USA", 76_400, "t", None, "country", False, "Mine production")],
        ),
        (  # XX world total; "Chile, ulexite"
            ODD / "mcs2024-boron_world.csv",
            "country IN ('CHL', 'WLD') AND year = 2022",
            [
                ("CHL", 360, "kt", None, "country", False, "ulexite"),
                (
                    "WLD",
                    None,
                    "kt",
                    "NA",
                    "world_total",
                    False,
                    "boron total all types",
                ),
            ],
        ),
        (  # "Less than ½ unit.", "   NA", two U.S. rows, million cubic metres
            ODD / "mcs2024-heliu_world.csv",
            "country IN ('USA', 'ZAF') AND year = 2023",
            [
                ("USA", 19, "Mm3", None, "country", True, "Mine production, helium"),
                ("USA", 60, "Mm3", None, "country", True, "Mine production, helium"),
                ("ZAF", None, "Mm3", "NA", "country", True, "Mine production, helium"),
            ],
        ),
        (  # Prod_mmt_: million metric tons
            ODD / "mcs2024-feste_world.csv",
            "country = 'CHN' AND year = 2022",
            [
                (
                    "CHN",
                    866,
                    "Mt",
                    None,
                    "country",
                    False,
                    "Pig iron, million metric tons",
                ),
                (
                    "CHN",
                    1_020,
                    "Mt",
                    None,
                    "country",
                    False,
                    "Raw steel, million metric tons",
                ),
            ],
        ),
        (  # Prod_mct_ with a trailing space in "18 "
            ODD / "mcs2024-diamo_world.csv",
            "country = 'RUS' AND year = 2023",
            [
                (
                    "RUS",
                    18,
                    "Mct",
                    None,
                    "country",
                    True,
                    "Mine production, industrial diamond",
                )
            ],
        ),
        (  # "Included with ilmenite": counted in another row
            USGS / "mcs2023" / "mcs2023-timin_world.csv",
            "country = 'USA' AND type = 'Mine production: rutile' AND year = 2022",
            [("USA", None, "kt", "NA", "country", True, "Mine production: rutile")],
        ),
        (  # "<100": only an upper bound
            USGS / "mcs2023" / "mcs2023-zirco-hafni_world.csv",
            "status IS NOT NULL",
            None,
        ),
        (  # "\u00a0\u00a0\u00a0\u00a0 325" (no-break spaces before the number)
            USGS / "mcs2024" / "mcs2024-manga_world.csv",
            "quantity IN (325, 330)",
            None,
        ),
    ],
    ids=lambda x: x.name if isinstance(x, Path) else None,
)
def test_quirks(
    store: Store, path: Path, where: str, expected: list[tuple[object, ...]] | None
) -> None:
    load_usgs(store, [path])
    got = value(store, where)
    if expected is None:  # check against the raw file instead
        header, rows = raw_table(path)
        prod = [
            i
            for i, h in enumerate(header)
            if h.startswith("Prod_") and h[-4:].isdigit()
        ]
        if "zirco" in path.name:
            n = sum(cells[i].strip() == "<100" for _, cells in rows for i in prod)
            assert n == 2 and len(got) == 2 and {g[3] for g in got} == {"NA"}
        else:
            hits = [
                cells[1]
                for _, cells in rows
                for i in prod
                if "\u00a0" in cells[i] and raw_number(cells[i]) in (325, 330)
            ]
            assert len(hits) == 2 and len(got) == 2
        return
    assert got == expected


def test_capacity_is_not_stored(store: Store) -> None:
    abras, cement = load_usgs(
        store, [ODD / "mcs2024-abras_world.csv", ODD / "mcs2023-cemen_world.csv"]
    )
    assert (abras.status, abras.rows) == ("loaded", 0)
    assert abras.notes == ("capacity only: capacity is not stored, no rows loaded",)
    assert cement.notes == ("16 capacity rows not stored",)
    types = store.fetchall("SELECT DISTINCT type FROM production")
    assert types == [("Cement production, estimated",)]
    # The Cap_kg_2023 column of gallium is not stored either: 7 rows x 2 years.
    (galli,) = load_usgs(store, [USGS / "mcs2024" / "mcs2024-galli_world.csv"])
    assert galli.rows == 14


def test_source_cell_with_a_space_and_smelter_stage(store: Store) -> None:
    load_usgs(store, [USGS / "mcs2024" / "mcs2024-alumi_world.csv"])  # "MCS 2024"
    assert store.fetchall("SELECT DISTINCT edition, stage FROM production") == [
        ("MCS2024", "smelter")
    ]


def test_ukraine_keeps_its_final_e(store: Store) -> None:
    path = USGS / "mcs2024" / "mcs2024-timin_world.csv"
    load_usgs(store, [path])
    _header, rows = raw_table(path)
    raw = [
        raw_number(cells[i])
        for _, cells in rows
        if cells[1] == "Ukraine"
        for i in (3, 4)
    ]
    assert len(raw) == 4  # ilmenite and rutile, two years each
    got = store.fetchall(
        "SELECT quantity FROM production WHERE country = 'UKR' ORDER BY type, year"
    )
    assert [q for (q,) in got] == raw


@pytest.mark.parametrize(
    ("type_text", "stage"),
    [
        (
            "Rare earths, mine production, rare-earth-oxide equivalent, metric tons",
            "mine",
        ),
        ("Mne production, grosss weight, marketable chromite ore", "mine"),
        ("Primary production", "refinery"),
        ("Primary and secondary refinery production", "refinery"),
        ("Smelter production, aluminum", "smelter"),
        ("Magnesium smelter production", "smelter"),
        ("Plant production, refined borates", "plant"),
        ("Sponge Metal Production and Sponge and Pigment Capacity", "plant"),
        ("Soda ash, total natural and synthetic", "production"),
        ("Production, all forms, contained sulfur", "production"),
        ("", "production"),
    ],
)
def test_stage_vocabulary(type_text: str, stage: str) -> None:
    assert stage_of(type_text) == stage


# -- reloads -----------------------------------------------------------------------------


def test_reload_is_a_no_op_and_a_changed_file_replaces(
    tmp_path: Path, store: Store
) -> None:
    copy = tmp_path / RAREE_2024.name
    shutil.copy(RAREE_2024, copy)
    (first,) = load_usgs(store, [copy])
    before = table_snapshot(store)
    (again,) = load_usgs(store, [copy])
    assert (first.status, again.status, again.rows) == ("loaded", "unchanged", 0)
    assert table_snapshot(store) == before
    # USGS revises a figure: China 2023 240000 -> 250000.
    text = copy.read_bytes().replace(b",210000,240000,", b",210000,250000,")
    assert text != RAREE_2024.read_bytes()
    copy.write_bytes(text)
    (changed,) = load_usgs(store, [copy])
    assert (changed.status, changed.rows) == ("replaced", first.rows)
    assert store.fetchall(
        "SELECT quantity FROM production WHERE country = 'CHN' AND year = 2023"
    ) == [(250_000,)]
    assert store.fetchall("SELECT count(*) FROM loads") == [(1,)]
    assert store.fetchall("SELECT count(*) FROM production") == [(first.rows,)]


# -- bad input ------------------------------------------------------------------------


def _edit(tmp_path: Path, old: bytes, new: bytes, name: str = RAREE_2024.name) -> Path:
    sub = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
    sub.mkdir()
    data = RAREE_2024.read_bytes()
    assert old in data
    out = sub / name
    out.write_bytes(data.replace(old, new, 1))
    return out


def _bad_files(tmp_path: Path) -> list[tuple[Path, str]]:
    empty = tmp_path / "mcs2024-galli_world.csv"
    empty.write_bytes(b"")
    number = _edit(tmp_path, b",210000,240000,", b",210000,24O000,")
    country = _edit(tmp_path, b"MCS2024,Burma,", b"MCS2024,Atlantis,")
    no_prod = _edit(
        tmp_path, b"Prod_t_est_2022,Prod_t_est_2023", b"Output_2022,Output_2023"
    )
    no_cols = _edit(tmp_path, b"Source,Country,Type", b"Edition,Nation,Kind")
    edition = _edit(tmp_path, b"MCS2024,China", b"2024,China")
    code = _edit(tmp_path, b"", b"", name="mcs2024-unobt_world.csv")
    baci = SOURCES / "baci" / "country_codes_V202501.csv"
    comtrade = SOURCES / "comtrade" / "gallium_trade_data.csv"
    not_usgs = (
        "not a USGS MCS world table: missing column(s) 'Source', 'Country', 'Type'"
    )
    return [
        (empty, f"{empty}: empty file; expected a USGS MCS table"),
        (
            number,
            f"{number}, row 7, column 'Prod_t_est_2023': expected a number, W or NA, got '24O000'",
        ),
        (country, f"{country}, row 5, column 'Country': unknown country 'Atlantis'"),
        (
            no_prod,
            f"{no_prod}, row 1: no production columns; expected Prod_<unit>_<year> or PROD_<year>",
        ),
        (no_cols, f"{no_cols}, row 1: {not_usgs}"),
        (
            edition,
            f"{edition}, row 7, column 'Source': expected an MCS edition such as MCS2024, got '2024'",
        ),
        (code, f"{code}: unknown USGS commodity code 'unobt' in the file name"),
        (baci, f"{baci}, row 1: {not_usgs}"),
        (comtrade, f"{comtrade}, row 1: {not_usgs}"),
    ]


def test_bad_inputs_fail_with_one_line_and_leave_the_store_alone(
    tmp_path: Path, cli, db_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ok = cli("load", "usgs", RAREE_2024)
    assert ok.exit_code == 0, ok.stderr
    with Store(db_path) as s:
        before = table_snapshot(s)
    assert before["production"]
    for path, message in _bad_files(tmp_path):
        result = cli("load", "usgs", path)
        assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n"), path
    # A bad file after a good one loads nothing: every file is parsed first.
    result = cli(
        "load", "usgs", USGS / "mcs2024" / "mcs2024-galli_world.csv", tmp_path / "case1"
    )
    assert result.exit_code == 2
    with Store(db_path) as s:
        assert table_snapshot(s) == before


def test_missing_path_and_empty_folder(tmp_path: Path, store: Store) -> None:
    with pytest.raises(SourceFormatError, match="no such file or folder"):
        load_usgs(store, [tmp_path / "absent.csv"])
    with pytest.raises(SourceFormatError, match=r"this folder holds no \.csv files"):
        load_usgs(store, [tmp_path])
