"""UN Comtrade loader on the real bundled API files (data/sources/comtrade/).

Golden values come from an independent route: plain ``csv``-module Python over the
same raw files, never from the loader's own output.
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from friendshore.errors import SourceFormatError
from friendshore.sources.comtrade import load_comtrade, read_comtrade
from friendshore.store import Store

from .conftest import FIXTURES, SOURCES, table_snapshot

COMTRADE = SOURCES / "comtrade"
ALL_FILES = sorted(COMTRADE.glob("*.csv"))
# Hand map of the reporter/partner codes these files use (SOURCES.md §3).
ISO = {"842": "USA", "156": "CHN", "36": "AUS", "180": "COD", "360": "IDN"}
Key = tuple[int, str, str, str]  # year, exporter, importer, hs code


# -- the independent route ------------------------------------------------------------


def raw_rows(name: str | Path) -> list[dict[str, str]]:
    path = name if isinstance(name, Path) else COMTRADE / name
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def is_total(r: dict[str, str]) -> bool:
    """An annual all-modes total: the only rows that count."""
    return (
        r["freqCode"] == "A"
        and r["motCode"] == "0"
        and r["mosCode"] == "0"
        and r["customsCode"] == "C00"
        and r["partner2Code"] == "0"
    )


def one(rows: list[dict[str, str]], **crit: str) -> dict[str, str]:
    hits = [r for r in rows if all(r[k] == v for k, v in crit.items())]
    assert len(hits) == 1, (crit, len(hits))
    return hits[0]


def flow_key(r: dict[str, str]) -> Key:
    rep, par = ISO[r["reporterCode"]], ISO[r["partnerCode"]]
    exp, imp = (par, rep) if r["flowCode"] == "M" else (rep, par)
    return int(r["refYear"]), exp, imp, r["cmdCode"]


def expected_flows(files: list[Path], prefer: str) -> dict[Key, tuple[float, str]]:
    """Bilateral flows with the preferred side kept, the other side as a mirror."""
    sides: dict[Key, dict[str, float]] = defaultdict(dict)
    for f in files:
        for r in raw_rows(f):
            if is_total(r) and r["partnerCode"] != "0" and r["flowCode"] in "MX":
                basis = "import" if r["flowCode"] == "M" else "export"
                sides[flow_key(r)][basis] = float(r["primaryValue"])
    want = "import" if prefer == "imports" else "export"
    out: dict[Key, tuple[float, str]] = {}
    for key, by in sides.items():
        basis = want if want in by else next(iter(by))
        out[key] = (by[basis], basis)
    return out


def expected_rest(files: list[Path]) -> dict[Key, float]:
    """World total minus listed partners, per reporter, flow, year, code (≥ 0.5)."""
    out: dict[Key, float] = {}
    for f in files:  # per file: the REE pair repeats the same records
        out |= _file_rest(f)
    return out


def _file_rest(f: Path) -> dict[Key, float]:
    world: dict[tuple[str, str, str, str], float] = {}
    listed: dict[tuple[str, str, str, str], float] = defaultdict(float)
    for r in raw_rows(f):
        if not is_total(r):
            continue
        g = (r["reporterCode"], r["flowCode"], r["refYear"], r["cmdCode"])
        if r["partnerCode"] == "0":
            world[g] = float(r["primaryValue"])
        else:
            listed[g] += float(r["primaryValue"])
    out: dict[Key, float] = {}
    for (rep, flow, year, cmd), total in world.items():
        rest = total - listed[(rep, flow, year, cmd)]
        if rest >= 0.5:
            exp, imp = ("XRW", ISO[rep]) if flow == "M" else (ISO[rep], "XRW")
            out[(int(year), exp, imp, cmd)] = rest
    return out


# -- store helpers --------------------------------------------------------------------


def stored(store: Store, where: str = "TRUE") -> dict[Key, tuple[float, str]]:
    rows = store.fetchall(
        "SELECT year, exporter, importer, hs6, value_usd, basis FROM trade_flows "
        f"WHERE source = 'comtrade' AND {where}"
    )
    out = {(y, e, i, k): (v, b) for y, e, i, k, v, b in rows}
    assert len(out) == len(rows), "a flow is stored more than once"
    return out


def flow(store: Store, year: int, exporter: str, importer: str, hs: str) -> tuple:
    rows = store.fetchall(
        """SELECT value_usd, quantity_t, basis, hs_revision FROM trade_flows
           WHERE year = $y AND exporter = $e AND importer = $i AND hs6 = $k""",
        {"y": year, "e": exporter, "i": importer, "k": hs},
    )
    assert len(rows) == 1, rows
    return rows[0]


def copy_with(
    tmp_path: Path,
    name: str,
    edit: Callable[[int, dict[str, str]], dict[str, str] | None] | None = None,
    *,
    drop: tuple[str, ...] = (),
    out_name: str | None = None,
) -> Path:
    """A copy of a real file; ``edit(line, row)`` may change or (None) drop a row."""
    src = COMTRADE / name
    with src.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [c for c in reader.fieldnames or [] if c not in drop]
        rows = list(reader)
    out = tmp_path / (out_name or name)
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, header, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for line, r in enumerate(rows, start=2):
            new = edit(line, dict(r)) if edit else r
            if new is not None:
                w.writerow(new)
    return out


# -- golden values ----------------------------------------------------------------------


def test_us_gallium_imports_from_china_2022_match_the_raw_row(store: Store) -> None:
    load_comtrade(store, [COMTRADE / "gallium_trade_data.csv"])
    raw = one(
        raw_rows("gallium_trade_data.csv"),
        reporterCode="842",
        flowCode="M",
        partnerCode="156",
        cmdCode="811292",
        refYear="2022",
        motCode="0",
    )
    value, qty, basis, rev = flow(store, 2022, "CHN", "USA", "811292")
    assert value == float(raw["primaryValue"])
    assert qty == pytest.approx(float(raw["netWgt"]) / 1000)  # kg → t
    assert (basis, rev) == ("import", "HS2022")


def fitted(files: list[Path]) -> tuple[dict[Key, float], dict[Key, float]]:
    """Flows and XRW remainders with the importers' World totals kept (DESIGN.md).

    Plain Python over the raw rows: an importer's own partner rows stay; the
    exporter-reported rows into it fill W − Σ own, scaled pro rata where they exceed
    it; the XRW remainder is what is left (≥ 0.5 USD). Exporters' remainders are
    World − listed, as before.
    """
    flows = {k: v for k, (v, _) in expected_flows(files, "imports").items()}
    basis = {k: b for k, (_, b) in expected_flows(files, "imports").items()}
    rest = {k: v for k, v in expected_rest(files).items() if k[1] != "XRW"}
    worlds: dict[tuple[int, str, str], float] = {}
    for f in files:
        for r in raw_rows(f):
            if is_total(r) and r["flowCode"] == "M" and r["partnerCode"] == "0":
                key = (int(r["refYear"]), ISO[r["reporterCode"]], r["cmdCode"])
                worlds[key] = float(r["primaryValue"])
    for (year, importer, hs), world in worlds.items():
        into = [k for k in flows if (k[0], k[2], k[3]) == (year, importer, hs)]
        own = sum(flows[k] for k in into if basis[k] == "import")
        mirrors = [k for k in into if basis[k] == "export"]
        room = world - own
        m = sum(flows[k] for k in mirrors)
        if m > room:
            for k in mirrors:
                flows[k] *= max(room, 0.0) / m
            m = max(room, 0.0)
        if room - m >= 0.5:
            rest[(year, "XRW", importer, hs)] = room - m
    return {k: v for k, v in flows.items() if v > 0}, rest


def test_all_files_load_to_the_independently_computed_flows(store: Store) -> None:
    results = load_comtrade(store, [COMTRADE])  # a folder of CSVs
    assert [r.file_name for r in results] == [p.name for p in ALL_FILES]
    want, rest = fitted(ALL_FILES)
    kept = expected_flows(ALL_FILES, "imports")
    got = stored(store, "exporter <> 'XRW' AND importer <> 'XRW'")
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key][1] == kept[key][1], key
        assert got[key][0] == pytest.approx(value), key
    got_rest = stored(store, "exporter = 'XRW' OR importer = 'XRW'")
    assert got_rest.keys() == rest.keys()
    for key, value in rest.items():
        assert got_rest[key][0] == pytest.approx(value, abs=1e-6), key
    total = store.fetchall("SELECT count(*) FROM trade_flows")[0][0]
    assert total == len(want) + len(rest)
    assert sum(r.rows for r in results) == total


def test_every_reported_world_import_total_is_kept_to_the_dollar(store: Store) -> None:
    """Issue 14: mirror rows had inflated 21 of the 140 World import totals."""
    results = load_comtrade(store, [COMTRADE])
    # The golden totals: plain DuckDB over the raw CSVs, not the loader.
    worlds = store.fetchall(
        f"""SELECT DISTINCT reporterCode, refYear::INTEGER, cmdCode,
                   primaryValue::DOUBLE
            FROM read_csv('{COMTRADE}/*.csv', all_varchar = true)
            WHERE flowCode = 'M' AND partnerCode = '0' AND freqCode = 'A'
              AND motCode = '0' AND mosCode = '0' AND customsCode = 'C00'
              AND partner2Code = '0'"""
    )
    assert len(worlds) == 140
    totals = {
        (y, i, k): v
        for y, i, k, v in store.fetchall(
            """SELECT year, importer, hs6, sum(value_usd) FROM trade_flows
               GROUP BY ALL"""
        )
    }
    for reporter, year, cmd, world in worlds:
        got = totals[(year, ISO[reporter], cmd)]
        assert abs(got - world) < 1.0, (reporter, year, cmd, got, world)
    # China's 2023 imports of 282200: 2.72 m reported, 2.66 bn before (979×).
    assert totals[(2023, "CHN", "282200")] == pytest.approx(2_721_164.0, abs=1.0)
    notes = {r.file_name: r.notes for r in results}
    assert any(
        "mirror rows scaled down to fit the importer's World total" in n
        for n in notes["cobalt_trade_data.csv"]
    )


def test_transport_mode_rows_are_not_summed(store: Store) -> None:
    results = load_comtrade(
        store, [COMTRADE / "lithium_trade_data.csv", COMTRADE / "nickel_trade_data.csv"]
    )
    for result in results:
        n_modes = sum(r["motCode"] != "0" for r in raw_rows(result.file_name))
        assert f"{n_modes} rows by transport mode skipped (totals kept)" in result.notes
    cases = [  # file, reporter, flow, partner, year, code
        ("lithium_trade_data.csv", "36", "M", "156", "2020", "253090"),
        ("nickel_trade_data.csv", "360", "X", "156", "2023", "7501"),
    ]
    for name, rep, fl, par, year, cmd in cases:
        rows = [
            r
            for r in raw_rows(name)
            if (r["reporterCode"], r["flowCode"], r["partnerCode"]) == (rep, fl, par)
            and (r["refYear"], r["cmdCode"]) == (year, cmd)
        ]
        total = one(rows, motCode="0")
        modes = [r for r in rows if r["motCode"] != "0"]
        assert modes, "the file carries per-mode rows beside the total"
        summed = sum(float(r["primaryValue"]) for r in rows)
        assert summed != pytest.approx(float(total["primaryValue"]))
        value, *_ = flow(store, *flow_key(total))
        assert value == float(total["primaryValue"])


def test_quantity_falls_back_to_qty_in_kg_and_is_null_when_unreported(
    store: Store,
) -> None:
    # In these files only World rows lack a weight: it shows in the XRW remainder.
    load_comtrade(store, [COMTRADE / "heavy_ree_trade_data.csv"])
    rows = [r for r in raw_rows("heavy_ree_trade_data.csv") if r["flowCode"] == "M"]
    zero_wgt = [
        r
        for r in rows
        if r["partnerCode"] == "0" and r["netWgt"] == "0.0" and r["qtyUnitCode"] == "8"
    ]
    assert zero_wgt, "real World rows with netWgt 0 but a quantity in kg"
    for w in zero_wgt:
        listed = one(
            rows,
            reporterCode=w["reporterCode"],
            partnerCode="156",
            refYear=w["refYear"],
            cmdCode=w["cmdCode"],
        )
        assert float(listed["netWgt"]) > 0
        year, _, importer, hs = flow_key({**w, "partnerCode": "156"})
        _, qty, _, _ = flow(store, year, "XRW", importer, hs)
        assert qty == pytest.approx((float(w["qty"]) - float(listed["netWgt"])) / 1000)
    load_comtrade(store, [COMTRADE / "copper_trade_data.csv"])
    no_wgt = [
        r
        for r in raw_rows("copper_trade_data.csv")
        if r["partnerCode"] == "0" and not r["netWgt"] and r["qtyUnitCode"] == "-1"
    ]
    assert no_wgt
    for w in no_wgt:
        year, exporter, importer, hs = flow_key({**w, "partnerCode": "156"})
        xrw = ("XRW", importer) if w["flowCode"] == "M" else (exporter, "XRW")
        _, qty, _, _ = flow(store, year, *xrw, hs)
        assert qty is None


def test_heavy_and_light_ree_files_store_each_flow_once(store: Store) -> None:
    heavy, light = (
        COMTRADE / "heavy_ree_trade_data.csv",
        COMTRADE / "light_ree_trade_data.csv",
    )
    first = load_comtrade(store, [heavy])
    n = store.fetchall("SELECT count(*) FROM trade_flows")[0][0]
    second = load_comtrade(store, [light])
    assert first[0].rows == n > 0
    assert second[0].status == "loaded"
    assert second[0].rows == 0
    assert any("already stored" in note for note in second[0].notes)
    assert store.fetchall("SELECT count(*) FROM trade_flows")[0][0] == n
    stored(store)  # asserts no duplicate flow


def test_world_remainder_is_world_minus_listed_partners(store: Store) -> None:
    load_comtrade(store, [COMTRADE / "gallium_trade_data.csv"])
    rows = [r for r in raw_rows("gallium_trade_data.csv") if r["refYear"] == "2023"]
    us_world = one(rows, reporterCode="842", flowCode="M", partnerCode="0")
    us_china = one(rows, reporterCode="842", flowCode="M", partnerCode="156")
    value, qty, basis, _ = flow(store, 2023, "XRW", "USA", "811292")
    assert value == pytest.approx(
        float(us_world["primaryValue"]) - float(us_china["primaryValue"])
    )
    assert qty == pytest.approx(
        (float(us_world["netWgt"]) - float(us_china["netWgt"])) / 1000
    )
    assert basis == "import"
    cn_world = one(rows, reporterCode="156", flowCode="X", partnerCode="0")
    cn_us = one(rows, reporterCode="156", flowCode="X", partnerCode="842")
    value, _, basis, _ = flow(store, 2023, "CHN", "XRW", "811292")
    assert value == pytest.approx(
        float(cn_world["primaryValue"]) - float(cn_us["primaryValue"])
    )
    assert basis == "export"


def test_world_below_listed_partners_gives_no_remainder(tmp_path: Path) -> None:
    def shrink_world(line: int, r: dict[str, str]) -> dict[str, str]:
        if (r["reporterCode"], r["flowCode"], r["partnerCode"], r["refYear"]) == (
            "842",
            "M",
            "0",
            "2022",
        ):
            r["primaryValue"] = "1000.0"
        return r

    path = copy_with(tmp_path, "gallium_trade_data.csv", shrink_world)
    parsed = read_comtrade(path)
    keys = set(
        zip(
            *(parsed.frame[c].to_list() for c in ("year", "exporter", "importer")),
            strict=True,
        )
    )
    assert (2022, "XRW", "USA") not in keys
    assert (2021, "XRW", "USA") in keys
    assert any("World totals below listed partners: no XRW" in n for n in parsed.notes)


# -- prefer and mirrors -----------------------------------------------------------------


def test_prefer_picks_the_side_both_report(tmp_path: Path) -> None:
    rows = raw_rows("gallium_trade_data.csv")
    us_report = one(
        rows, reporterCode="842", flowCode="M", partnerCode="156", refYear="2022"
    )
    cn_report = one(
        rows, reporterCode="156", flowCode="X", partnerCode="842", refYear="2022"
    )
    assert us_report["primaryValue"] != cn_report["primaryValue"]
    for prefer, raw, basis in [
        ("imports", us_report, "import"),
        ("exports", cn_report, "export"),
    ]:
        with Store(tmp_path / f"{prefer}.duckdb") as s:
            load_comtrade(s, [COMTRADE / "gallium_trade_data.csv"], prefer=prefer)
            value, _, got_basis, _ = flow(s, 2022, "CHN", "USA", "811292")
            assert (value, got_basis) == (float(raw["primaryValue"]), basis)


def test_mirror_fills_a_flow_only_one_side_reports(store: Store) -> None:
    load_comtrade(store, [COMTRADE / "nickel_trade_data.csv"])
    rows = [r for r in raw_rows("nickel_trade_data.csv") if is_total(r)]
    # China reports imports of 7501 from the USA only for 2022; the USA reports its
    # exports to China every year: the US export report fills the other years.
    cn_reports = {
        r["refYear"]
        for r in rows
        if (r["reporterCode"], r["flowCode"], r["partnerCode"], r["cmdCode"])
        == ("156", "M", "842", "7501")
    }
    assert cn_reports == {"2022"}
    us_2020 = one(
        rows,
        reporterCode="842",
        flowCode="X",
        partnerCode="156",
        refYear="2020",
        cmdCode="7501",
    )
    value, _, basis, _ = flow(store, 2020, "USA", "CHN", "7501")
    assert (value, basis) == (float(us_2020["primaryValue"]), "export")
    cn_2022 = one(
        rows,
        reporterCode="156",
        flowCode="M",
        partnerCode="842",
        refYear="2022",
        cmdCode="7501",
    )
    value, _, basis, _ = flow(store, 2022, "USA", "CHN", "7501")
    assert (value, basis) == (float(cn_2022["primaryValue"]), "import")


def test_preferred_rows_of_a_later_load_replace_stored_mirrors(store: Store) -> None:
    heavy, light = (
        COMTRADE / "heavy_ree_trade_data.csv",
        COMTRADE / "light_ree_trade_data.csv",
    )
    load_comtrade(store, [heavy], prefer="exports")
    assert flow(store, 2022, "CHN", "USA", "2846")[2] == "export"
    result = load_comtrade(store, [light], prefer="imports")[0]
    assert flow(store, 2022, "CHN", "USA", "2846")[2] == "import"
    want = expected_flows([light], "imports")
    got = stored(store, "exporter <> 'XRW' AND importer <> 'XRW'")
    assert {k: v[1] for k, v in got.items()} == {k: v[1] for k, v in want.items()}
    assert any("stored export-side rows replaced" in n for n in result.notes)


# -- codes and revisions ------------------------------------------------------------------


def test_hs4_codes_stay_four_digits_and_revisions_follow_the_file(store: Store) -> None:
    load_comtrade(store, [COMTRADE / "cobalt_trade_data.csv"])
    codes = {r[0] for r in store.fetchall("SELECT DISTINCT hs6 FROM trade_flows")}
    assert codes == {"8105", "282200"}
    revs = store.fetchall(
        """SELECT year, list(DISTINCT hs_revision ORDER BY hs_revision) FROM trade_flows
           WHERE 'COD' NOT IN (exporter, importer) GROUP BY year ORDER BY year"""
    )
    assert revs == [
        (2020, ["HS2017"]),
        (2021, ["HS2017"]),
        (2022, ["HS2022"]),
        (2023, ["HS2022"]),
        (2024, ["HS2022"]),
    ]
    # DR Congo reports in H4 (HS2012) throughout.
    assert store.fetchall(
        "SELECT DISTINCT hs_revision FROM trade_flows WHERE exporter = 'COD'"
    ) == [("HS2012",)]


def test_six_digit_codes_keep_leading_zeros(tmp_path: Path, store: Store) -> None:
    def zero_code(line: int, r: dict[str, str]) -> dict[str, str]:
        r["cmdCode"] = "081129"  # a real HS code with a leading zero
        return r

    load_comtrade(store, [copy_with(tmp_path, "gallium_trade_data.csv", zero_code)])
    assert store.fetchall("SELECT DISTINCT hs6 FROM trade_flows") == [("081129",)]


def test_legacy_layout_loads_the_same_flows_as_the_api_file(tmp_path: Path) -> None:
    with (
        Store(tmp_path / "legacy.duckdb") as legacy,
        Store(tmp_path / "v1.duckdb") as v1,
    ):
        load_comtrade(
            legacy, [FIXTURES / "comtrade" / "gallium_legacy_bulk_2020_2021.csv"]
        )
        load_comtrade(v1, [COMTRADE / "gallium_trade_data.csv"])
        sql = """SELECT year, exporter, importer, hs6, hs_revision, value_usd,
                        quantity_t, basis FROM trade_flows WHERE year <= 2021 ORDER BY ALL"""
        assert legacy.fetchall(sql) == v1.fetchall(sql)
        assert len(legacy.fetchall(sql)) == 12


def test_monthly_and_other_flow_rows_are_skipped_with_notes(tmp_path: Path) -> None:
    def edit(line: int, r: dict[str, str]) -> dict[str, str]:
        if line == 2:
            r["freqCode"] = "M"
        if line == 3:
            r["flowCode"] = "RX"
        return r

    parsed = read_comtrade(copy_with(tmp_path, "gallium_trade_data.csv", edit))
    assert "1 monthly rows skipped (annual only)" in parsed.notes
    assert any(n.startswith("1 other-flow rows skipped (1 RX)") for n in parsed.notes)


# -- reload bookkeeping ----------------------------------------------------------------------


def test_reload_is_a_no_op_and_a_changed_file_replaces(
    tmp_path: Path, store: Store
) -> None:
    path = copy_with(tmp_path, "gallium_trade_data.csv")
    first = load_comtrade(store, [path])[0]
    again = load_comtrade(store, [path])[0]
    assert (first.status, again.status) == ("loaded", "unchanged")
    n = store.fetchall("SELECT count(*) FROM trade_flows")[0][0]
    assert n == first.rows

    def bump(line: int, r: dict[str, str]) -> dict[str, str]:
        key = (r["reporterCode"], r["flowCode"], r["partnerCode"], r["refYear"])
        if key == ("842", "M", "156", "2022"):
            r["primaryValue"] = "22430418.0"  # was 22430417.0
        return r

    copy_with(tmp_path, "gallium_trade_data.csv", bump)
    changed = load_comtrade(store, [path])[0]
    assert changed.status == "replaced"
    assert store.fetchall("SELECT count(*) FROM trade_flows")[0][0] == n
    assert flow(store, 2022, "CHN", "USA", "811292")[0] == 22430418.0
    assert store.fetchall("SELECT load_id FROM loads") == [(changed.load_id,)]


# -- bad input ----------------------------------------------------------------------------


def _set(
    line_no: int, column: str, value: str
) -> Callable[[int, dict[str, str]], dict[str, str]]:
    def edit(line: int, r: dict[str, str]) -> dict[str, str]:
        if line == line_no:
            r[column] = value
        return r

    return edit


def _bad_files(tmp_path: Path) -> list[tuple[Path, str]]:
    g = "gallium_trade_data.csv"
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    baci = tmp_path / "BACI_HS17_Y2022_V202501.csv"
    baci.write_text("t,i,j,k,v,q\n2022,156,842,811292,22430.417,81.469\n")
    usgs = SOURCES / "usgs" / "mcs2024" / "mcs2024-galli_world.csv"
    with usgs.open(encoding="utf-8-sig", newline="") as fh:
        usgs_cols = next(csv.reader(fh))
    usgs_shown = ", ".join(usgs_cols[:8]) + (" …" if len(usgs_cols) > 8 else "")
    v1_cols = "(refYear, reporterCode, flowCode, partnerCode, classificationCode, cmdCode, primaryValue)"
    not_comtrade = f"not a UN Comtrade file: expected the API/Comtrade+ columns {v1_cols} or the legacy portal columns (Classification, Year, Trade Flow Code, Reporter Code, Partner Code, Commodity Code, Trade Value (US$)); found"
    cases = [
        (
            copy_with(
                tmp_path, g, drop=("cmdCode", "primaryValue"), out_name="cols.csv"
            ),
            "{p}: missing required API/Comtrade+ column(s): cmdCode, primaryValue",
        ),
        (
            copy_with(
                tmp_path, g, _set(5, "primaryValue", "12,5x"), out_name="num.csv"
            ),
            "{p}, row 5, column 'primaryValue': expected a US$ amount ≥ 0, got '12,5x'",
        ),
        (
            copy_with(tmp_path, g, _set(7, "partnerCode", "999"), out_name="code.csv"),
            "{p}, row 7, column 'partnerCode': unknown UN Comtrade country code 999 (expected an M49/Comtrade reporter or partner code)",
        ),
        (
            copy_with(
                tmp_path, g, _set(9, "classificationCode", "S4"), out_name="cls.csv"
            ),
            "{p}, row 9, column 'classificationCode': unknown classification 'S4': expected an HS revision code H0–H6 ('HS' as reported names no revision; download with a fixed one)",
        ),
        (empty, "{p}: empty file; expected a UN Comtrade CSV"),
        (baci, "{p}: " + not_comtrade + " t, i, j, k, v, q"),
        (
            usgs,
            "{p}: " + not_comtrade + " " + usgs_shown,
        ),
    ]
    return [(p, msg.format(p=p)) for p, msg in cases]


def test_bad_inputs_fail_with_one_line_and_leave_the_store_alone(
    tmp_path: Path, cli, db_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ok = cli("load", "comtrade", COMTRADE / "copper_trade_data.csv")
    assert ok.exit_code == 0, ok.stderr
    with Store(db_path) as s:
        before = table_snapshot(s)
    assert before["trade_flows"]
    for path, message in _bad_files(tmp_path):
        result = cli("load", "comtrade", path)
        assert result.exit_code == 2, (path, result.stdout)
        assert result.stderr == f"Error: {message}\n"
    # A bad file among good ones loads nothing: every file is checked first.
    result = cli(
        "load", "comtrade", COMTRADE / "gallium_trade_data.csv", tmp_path / "num.csv"
    )
    assert result.exit_code == 2
    with Store(db_path) as s:
        assert table_snapshot(s) == before


def test_unknown_reporter_code_names_the_row(tmp_path: Path) -> None:
    path = copy_with(
        tmp_path, "cobalt_trade_data.csv", _set(12, "reporterCode", "4242")
    )
    with pytest.raises(SourceFormatError) as err:
        read_comtrade(path)
    assert (err.value.row, err.value.column) == (12, "reporterCode")


def test_conflicting_duplicate_record_is_an_error(tmp_path: Path) -> None:
    src = raw_rows("gallium_trade_data.csv")

    def dup(line: int, r: dict[str, str]) -> dict[str, str]:
        if line == 4:  # a second copy of line 2's record with another value
            return {**src[0], "primaryValue": "1.0"}
        return r

    with pytest.raises(SourceFormatError) as err:
        read_comtrade(copy_with(tmp_path, "gallium_trade_data.csv", dup))
    assert (err.value.row, err.value.column) == (4, "primaryValue")
    assert "conflicting duplicate of row 2" in str(err.value)


def test_bad_prefer_value_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "load", "comtrade", COMTRADE / "gallium_trade_data.csv", "--prefer", "import"
    )
    assert result.exit_code == 2
    assert (
        result.stderr
        == "Error: Unknown --prefer value 'import'. Did you mean 'imports'?\n"
    )


def test_a_missing_path_is_an_input_error(tmp_path: Path, store: Store) -> None:
    with pytest.raises(SourceFormatError, match="no such file or folder"):
        load_comtrade(store, [tmp_path / "absent.csv"])
    empty_dir = tmp_path / "none"
    empty_dir.mkdir()
    shutil.copy(COMTRADE / "gallium_trade_data.csv", tmp_path / "x.txt")
    with pytest.raises(SourceFormatError, match=r"folder holds no \.csv files"):
        load_comtrade(store, [empty_dir])
