"""Generic table loader (CSV / Parquet + column mapping).

The tables are user tables made in ``tmp_path`` from the real bundled files: the UN
Comtrade gallium records (data/sources/comtrade/, rows kept verbatim) and the USGS
MCS2024 rare-earth table (re-laid long, values as published). Golden values come
from plain ``csv``-module Python over the same raw files.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from friendshore.errors import ParameterError, SourceFormatError
from friendshore.sources.table import hs_revision_name, load_table, parse_table
from friendshore.store import Store

from .conftest import SOURCES, table_snapshot

GALLIUM = SOURCES / "comtrade" / "gallium_trade_data.csv"
RAREE_2024 = SOURCES / "usgs" / "mcs2024" / "mcs2024-raree_world.csv"
ISO = {"842": "USA", "156": "CHN"}
TRADE_MAP = {
    "year": "refYear",
    "exporter": "partnerCode",
    "importer": "reporterCode",
    "hs6": "cmdCode",
    "value_usd": "primaryValue",
    "hs_revision": "classificationCode",
}


def _map_args(mapping: dict[str, str]) -> list[str]:
    return [a for k, v in mapping.items() for a in ("--map", f"{k}={v}")]


def imports_table(tmp_path: Path, name: str = "gallium_imports.csv") -> Path:
    """The gallium file's import records from a real partner (not World), verbatim."""
    with GALLIUM.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader if r["flowCode"] == "M" and r["partnerCode"] != "0"]
    out = tmp_path / name
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return out


def raw_imports() -> dict[tuple[int, str, str], tuple[float, str]]:
    """(year, exporter, importer) -> (primaryValue, classificationCode), csv module."""
    with GALLIUM.open(newline="", encoding="utf-8") as fh:
        return {
            (int(r["refYear"]), ISO[r["partnerCode"]], ISO[r["reporterCode"]]): (
                float(r["primaryValue"]),
                r["classificationCode"],
            )
            for r in csv.DictReader(fh)
            if r["flowCode"] == "M" and r["partnerCode"] != "0"
        }


def rare_earth_table(tmp_path: Path) -> Path:
    """MCS2024 rare-earth mine production re-laid long: one row per country-year."""
    with RAREE_2024.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [r for r in reader if any(c.strip() for c in r)]
    out = tmp_path / "rare_earths.csv"
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["Year", "Country", "Mineral", "Step", "Tonnes", "Unit", "Est"])
        for r in rows:
            country = "WLD" if r[1].startswith("World total") else r[1]
            for col in (3, 4):
                year = header[col][-4:]
                est = "yes" if "est" in header[col] else "no"
                w.writerow([year, country, "Rare earths", "Mine", r[col], "t", est])
    return out


# -- golden values ----------------------------------------------------------------------


def test_trade_table_matches_the_raw_records(
    tmp_path: Path, cli, db_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = imports_table(tmp_path)
    result = cli("load", "table", path, *_map_args(TRADE_MAP))
    assert result.exit_code == 0, result.stderr
    raw = raw_imports()
    with Store(db_path) as s:
        got = s.fetchall(
            "SELECT year, exporter, importer, hs6, hs_revision, value_usd, quantity_t,"
            " source, basis FROM trade_flows ORDER BY ALL"
        )
        (load,) = s.fetchall("SELECT source, dataset_key, rows FROM loads")
    revision = {"H5": "HS2017", "H6": "HS2022"}
    assert got == sorted(
        (y, e, i, "811292", revision[cls], v, None, "table:gallium_imports", "table")
        for (y, e, i), (v, cls) in raw.items()
    )
    assert len(got) == 10
    assert load == ("table", "gallium_imports.csv:trade_flows", 10)
    # One figure by hand from the raw row: US imports from China, 2020 (line 2).
    assert (2020, "CHN", "USA") in raw
    assert raw[2020, "CHN", "USA"][0] == 12_636_598.0


def test_parquet_with_typed_columns_gives_the_same_flows(
    tmp_path: Path, store: Store
) -> None:
    csv_path = imports_table(tmp_path)
    pq = tmp_path / "gallium.parquet"
    pl.read_csv(csv_path).write_parquet(pq)  # inferred: integer codes, float values
    assert pl.read_parquet_schema(pq)["cmdCode"] == pl.Int64
    mapping = {**TRADE_MAP, "quantity_t": "netWgt"}
    del mapping["hs_revision"]
    (res,) = load_table(
        store, [pq], mapping=mapping, hs_revision="HS2017", name="gallium"
    )
    assert (res.status, res.rows) == ("loaded", 10)
    got = store.fetchall(
        "SELECT year, exporter, importer, value_usd, hs_revision, source"
        " FROM trade_flows ORDER BY ALL"
    )
    assert got == sorted(
        (y, e, i, v, "HS2017", "table:gallium")
        for (y, e, i), (v, _) in raw_imports().items()
    )


def test_production_table_gives_the_rare_earth_share(
    tmp_path: Path, store: Store
) -> None:
    path = rare_earth_table(tmp_path)
    mapping = {
        "year": "Year",
        "country": "Country",
        "commodity": "Mineral",
        "stage": "Step",
        "quantity": "Tonnes",
        "is_estimate": "Est",
    }  # "unit" comes from the same-named column "Unit"
    load_table(store, [path], mapping=mapping, target="production", name="mcs")
    (china, listed, world) = store.fetchall(
        """SELECT sum(quantity) FILTER (WHERE country = 'CHN'),
                  sum(quantity) FILTER (WHERE kind <> 'world_total'),
                  sum(quantity) FILTER (WHERE kind = 'world_total')
           FROM production WHERE commodity = 'rare earths' AND stage = 'mine'
             AND year = 2023 AND is_estimate AND source = 'table:mcs'
             AND edition = 'mcs' AND unit = 't'"""
    )[0]
    assert (china, listed, world) == (240_000, 353_320, 350_000)  # by hand, MCS2024
    assert store.fetchall(
        "SELECT country FROM production WHERE year = 2023 AND quantity = 38000"
    ) == [("MMR",)]  # Burma


def test_hs6_five_digits_are_left_padded_and_names_iso2_work(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "year,exporter,importer,hs6,value_usd,quantity_t\n"
        "2022,China,US,81292,100.5,\n"
        "2022,CHN,842,811292,7,0.25\n",
        encoding="utf-8",
    )
    (res,) = load_table(store, [path], hs_revision="h6")
    assert res.rows == 2
    assert store.fetchall(
        "SELECT exporter, importer, hs6, hs_revision, value_usd, quantity_t"
        " FROM trade_flows ORDER BY hs6"
    ) == [
        ("CHN", "USA", "081292", "HS2022", 100.5, None),
        ("CHN", "USA", "811292", "HS2022", 7.0, 0.25),
    ]


@pytest.mark.parametrize(
    ("text", "name"),
    [("HS2017", "HS2017"), ("hs17", "HS2017"), ("H0", "HS1992"), ("2022", "HS2022")],
)
def test_hs_revision_names(text: str, name: str) -> None:
    assert hs_revision_name(text) == name


def test_hs_revision_rejects_non_revisions() -> None:
    assert hs_revision_name("HS2019") is None
    assert hs_revision_name("S4") is None


# -- reloads ------------------------------------------------------------------------------


def test_reload_is_a_no_op_and_a_changed_file_replaces(
    tmp_path: Path, store: Store
) -> None:
    path = imports_table(tmp_path)
    (first,) = load_table(store, [path], mapping=TRADE_MAP)
    before = table_snapshot(store)
    (again,) = load_table(store, [path], mapping=TRADE_MAP)
    assert (again.status, again.rows) == ("unchanged", 0)
    assert table_snapshot(store) == before
    text = path.read_text(encoding="utf-8")
    # primaryValue of the 2020 US import from China (cifvalue, fobvalue before it)
    old = ",12636598.0,0.0,12636598.0,0,"
    assert text.count(old) == 1
    path.write_text(text.replace(old, ",12636598.0,0.0,1.0,0,"), encoding="utf-8")
    (changed,) = load_table(store, [path], mapping=TRADE_MAP)
    assert (changed.status, changed.rows) == ("replaced", first.rows)
    assert store.fetchall(
        "SELECT value_usd FROM trade_flows WHERE year = 2020 AND exporter = 'CHN'"
    ) == [(1.0,)]
    assert store.fetchall("SELECT count(*) FROM trade_flows") == [(first.rows,)]
    assert store.fetchall("SELECT count(*) FROM loads") == [(1,)]


# -- bad input ------------------------------------------------------------------------


def _with_cell(src: Path, out: Path, line: int, column: str, value: str) -> Path:
    with src.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    rows[line - 2][column] = value
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return out


def _bad_cases(tmp_path: Path) -> list[tuple[list[str], str]]:
    good = imports_table(tmp_path, "good.csv")
    args = _map_args(TRADE_MAP)
    cols = "typeCode, freqCode, refPeriodId, refYear, refMonth, period, reporterCode, reporterISO, reporterDesc, flowCode, flowDesc, partnerCode …"

    def cell(name: str, line: int, column: str, value: str) -> Path:
        return _with_cell(good, tmp_path / name, line, column, value)

    number = cell("number.csv", 4, "primaryValue", "12x")
    country = cell("country.csv", 5, "partnerCode", "999")
    world = cell("world.csv", 5, "partnerCode", "0")
    hs6 = cell("hs6.csv", 3, "cmdCode", "8112")
    year = cell("year.csv", 6, "refYear", "20x1")
    revision = cell("revision.csv", 2, "classificationCode", "S4")
    negative = cell("negative.csv", 3, "primaryValue", "-5")
    dup = cell("dup.csv", 3, "refYear", "2020")  # line 3 repeats line 2's key
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    xlsx = tmp_path / "flows.xlsx"
    xlsx.write_bytes(b"PK\x03\x04")
    country_msg = (
        "expected a country (ISO3, ISO2, numeric trade code or name; no aggregates)"
    )
    return [
        (
            [str(good), "--map", "year=refYear"],
            f"{good}: required column(s) not mapped: exporter, importer, hs6, value_usd, hs_revision (use --map CANONICAL=COLUMN); file columns: {cols}",
        ),
        (
            [str(good), *args, "--map", "quantity_t=NetWeight"],
            f"{good}: mapped column(s) not in the file: quantity_t=NetWeight; file columns: {cols}",
        ),
        (
            [str(number), *args],
            f"{number}, row 4, column 'primaryValue': expected a number, got '12x'",
        ),
        (
            [str(negative), *args],
            f"{negative}, row 3, column 'primaryValue': expected a number >= 0, got '-5'",
        ),
        (
            [str(country), *args],
            f"{country}, row 5, column 'partnerCode': {country_msg}, got '999'",
        ),
        (
            [str(world), *args],
            f"{world}, row 5, column 'partnerCode': {country_msg}, got '0'",
        ),
        (
            [str(hs6), *args],
            f"{hs6}, row 3, column 'cmdCode': expected a 6-digit HS code, got '8112'",
        ),
        (
            [str(year), *args],
            f"{year}, row 6, column 'refYear': expected a year such as 2022, got '20x1'",
        ),
        (
            [str(revision), *args],
            f"{revision}, row 2, column 'classificationCode': expected an HS revision such as HS2017, got 'S4'",
        ),
        (
            [str(dup), *args],
            f"{dup}, row 3, column 'cmdCode': repeats the (year, exporter, importer, hs6) of row 2",
        ),
        ([str(empty), *args], f"{empty}: empty file; expected a header row"),
        ([str(xlsx), *args], f"{xlsx}: expected a .csv or .parquet file"),
        (
            [str(good), *args, "--map", "exportr=partnerCode"],
            "--map names unknown trade_flows column(s) exportr; expected: year, exporter, importer, hs6, value_usd, quantity_t, hs_revision",
        ),
        (
            [str(good), *args, "--target", "flows"],
            "--target must be one of trade_flows, production, got 'flows'",
        ),
        (
            [str(good), *args[:-2], "--hs-revision", "HS2019"],
            "--hs-revision expects an HS revision such as HS2017, got 'HS2019'",
        ),
    ]


def test_bad_inputs_fail_with_one_line_and_leave_the_store_alone(
    tmp_path: Path, cli, db_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ok = cli(
        "load", "table", imports_table(tmp_path, "first.csv"), *_map_args(TRADE_MAP)
    )
    assert ok.exit_code == 0, ok.stderr
    with Store(db_path) as s:
        before = table_snapshot(s)
    assert before["trade_flows"]
    for args, message in _bad_cases(tmp_path):
        result = cli("load", "table", *args)
        assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n"), args
    with Store(db_path) as s:
        assert table_snapshot(s) == before


def test_production_status_and_flags_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "year,country,commodity,stage,quantity,unit,status\n"
        "2023,China,Gallium,Refinery,600000,kg,\n"
        "2023,United States,Gallium,Refinery,,kg,withheld\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceFormatError) as err:
        parse_table(path, target="production")
    assert (err.value.row, err.value.column) == (3, "status")
    with (
        Store(":memory:") as s,
        pytest.raises(ParameterError, match="only to --target trade_flows"),
    ):
        load_table(s, [path], target="production", hs_revision="HS2017")
