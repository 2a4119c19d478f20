"""Product and industry exposure: hand-worked goldens, an independent SQL route,
hypothesis properties, blocs, as-of-year tiers, source selection."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from friendshore import sources
from friendshore.engines.exposure import (
    exposure_frame,
    industry_exposure,
    product_exposure,
    rollup_industries,
)
from friendshore.errors import ParameterError, UnknownNameError
from friendshore.selection import Selection, select_flows
from friendshore.store import Store
from friendshore.store import insert_flows as store_insert_flows


def rows(
    store: Store, tiers: pl.DataFrame, years: list[int] | None = None, **kw: object
) -> Selection:
    """A Selection built by hand: the store's loads, injected tiers (and members)."""
    return Selection(loads=select_flows(store, years), tiers=tiers, **kw)  # type: ignore[arg-type]


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "exposure"
BACI_2022 = FIXTURES / "BACI_HS17_Y2022_V202501.csv"

Flow = tuple[int, str, str, str, float]  # year, exporter, importer, hs6, value_usd


def insert_flows(
    store: Store,
    rows: Iterable[Flow],
    *,
    source: str = "baci",
    hs_revision: str = "HS2017",
    load_id: int = 1,
    file_name: str = "crafted.csv",
) -> None:
    """Crafted flows plus the ``loads`` row that makes them selectable."""
    rows = list(rows)
    years = sorted({r[0] for r in rows})
    store.execute(
        """INSERT INTO loads VALUES ($id, $src, $file, $file, 'sha' || $id::VARCHAR,
           $key, 'trade_flows', $n, $years, now()::TIMESTAMP, 'test', NULL)""",
        {
            "id": load_id,
            "src": source.split(":")[0],
            "file": file_name,
            "key": f"{source}:{load_id}",
            "n": len(rows),
            "years": ",".join(map(str, years)),
        },
    )
    frame = pl.DataFrame(
        rows,
        schema={
            "year": pl.Int16,
            "exporter": pl.String,
            "importer": pl.String,
            "hs6": pl.String,
            "value_usd": pl.Float64,
        },
        orient="row",
    )
    store.register("_rows", frame)
    basis = "baci" if source == "baci" else "import"
    store.execute(
        """CREATE TEMP TABLE _flows_in AS SELECT year, exporter, importer, hs6,
           $rev AS hs_revision, value_usd, NULL::DOUBLE AS quantity_t,
           $src AS source, $basis AS basis, $id AS load_id FROM _rows""",
        {"rev": hs_revision, "src": source, "basis": basis, "id": load_id},
    )
    store.unregister("_rows")
    store_insert_flows(store.con)
    store.execute("DROP TABLE _flows_in")


def tiers_of(year: int, **tiers: list[str]) -> pl.DataFrame:
    """A tiers frame for one year: tiers_of(2022, concern=["CHN"], ally=[…])."""
    rows = [(year, iso3, tier) for tier, codes in tiers.items() for iso3 in codes]
    return pl.DataFrame(
        rows,
        schema={"year": pl.Int16, "iso3": pl.String, "tier": pl.String},
        orient="row",
    )


def one(df: pl.DataFrame, **keys: object) -> dict[str, object]:
    rows = df.filter(*[pl.col(k) == v for k, v in keys.items()]).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


# -- a hand-worked 3-supplier product ------------------------------------------------


def test_three_supplier_product_by_hand(store: Store) -> None:
    # USA imports 850511 in 2022: CHN 600, JPN 300, DEU 100 (USD).
    #   V = 1000; shares 0.6, 0.3, 0.1
    #   HHI = 0.6² + 0.3² + 0.1² = 0.36 + 0.09 + 0.01 = 0.46
    #   prc = 0.6 (CHN); ally = 0.3 (JPN); partner = 0.1 (DEU); other = 0
    #   top supplier CHN at 0.6; 3 suppliers
    insert_flows(
        store,
        [
            (2022, "CHN", "USA", "850511", 600.0),
            (2022, "JPN", "USA", "850511", 300.0),
            (2022, "DEU", "USA", "850511", 100.0),
        ],
    )
    tiers = tiers_of(2022, concern=["CHN", "HKG", "MAC"], ally=["JPN"], partner=["DEU"])
    df = exposure_frame(store, rows(store, tiers, [2022]))
    row = one(df, importer="USA", hs6="850511")
    assert row["import_value_usd"] == 1000.0
    assert row["n_suppliers"] == 3
    assert row["top_supplier"] == "CHN"
    assert row["top_supplier_share"] == pytest.approx(0.6)
    assert row["hhi"] == pytest.approx(0.46)
    assert row["prc_share"] == pytest.approx(0.6)
    assert row["ally_share"] == pytest.approx(0.3)
    assert row["partner_share"] == pytest.approx(0.1)
    assert row["other_share"] == pytest.approx(0.0)


def test_residual_areas_count_in_totals_and_nowhere_else(store: Store) -> None:
    # USA imports 280530: XRW 1000 (rest of a World total), X697 100 (Europe EFTA
    # nes), CHN 300, DEU 100. By hand: V = 1500; named CHN, DEU (n = 2);
    # top CHN at 300/1500 = 0.2 (not XRW); prc = 0.2; coverage = 400/1500;
    # hhi = (300² + 100²)/1500² = 100000/2250000 = 0.0444…;
    # hhi_max = (100000 + 1100²)/2250000 = 1310000/2250000 = 0.58222…;
    # other = (1500 − 300 − 100)/1500 (DEU partner).
    # XRW as an importer (USA → XRW, the rest of USA's World exports) and X697 as
    # one are no importer rows; XRW listed as a concern stays residual.
    insert_flows(
        store,
        [
            (2022, "XRW", "USA", "280530", 1000.0),
            (2022, "X697", "USA", "280530", 100.0),
            (2022, "CHN", "USA", "280530", 300.0),
            (2022, "DEU", "USA", "280530", 100.0),
            (2022, "USA", "XRW", "280530", 700.0),
            (2022, "CHN", "X697", "280530", 50.0),
        ],
    )
    tiers = tiers_of(2022, concern=["CHN", "XRW"], partner=["DEU", "X697"])
    df = exposure_frame(store, rows(store, tiers))
    assert df["importer"].to_list() == ["USA"]
    row = one(df, hs6="280530")
    assert (row["n_suppliers"], row["import_value_usd"]) == (2, 1500.0)
    assert row["top_supplier"] == "CHN"
    assert row["top_supplier_share"] == pytest.approx(0.2)
    assert row["prc_share"] == pytest.approx(0.2)
    assert row["partner_share"] == pytest.approx(100 / 1500)
    assert row["other_share"] == pytest.approx(1100 / 1500)
    assert row["coverage"] == pytest.approx(400 / 1500)
    assert row["hhi"] == pytest.approx(100_000 / 2_250_000)
    assert row["hhi_max"] == pytest.approx(1_310_000 / 2_250_000)


def test_a_product_bought_only_from_residual_areas_has_no_top_supplier(
    store: Store,
) -> None:
    insert_flows(store, [(2022, "XRW", "USA", "280530", 100.0)])
    row = one(exposure_frame(store, rows(store, tiers_of(2022))), hs6="280530")
    assert (row["n_suppliers"], row["top_supplier"]) == (0, None)
    assert (row["hhi"], row["hhi_max"], row["coverage"]) == (0.0, 1.0, 0.0)


def test_a_residual_area_is_refused_as_importer(store: Store) -> None:
    insert_flows(store, [(2022, "CHN", "XRW", "280530", 100.0)])
    with pytest.raises(ParameterError, match="residual"):
        product_exposure(store, importer="XRW")


def test_four_digit_codes_only_when_asked(store: Store) -> None:
    insert_flows(
        store,
        [(2022, "CHN", "USA", "8505", 50.0), (2022, "CHN", "USA", "850511", 10.0)],
        source="comtrade",
    )
    tiers = tiers_of(2022, concern=["CHN"])
    every = exposure_frame(store, rows(store, tiers))
    assert every["hs6"].to_list() == ["850511"]
    asked = exposure_frame(store, rows(store, tiers, hs=("8505",)))
    assert asked["hs6"].to_list() == ["8505"]
    assert asked["import_value_usd"].to_list() == [50.0]


# -- the same figures by an independent plain-DuckDB route over BACI ----------------

INDEPENDENT_SQL = """
WITH codes AS (
    SELECT country_code,
           CASE country_code WHEN 490 THEN 'TWN' WHEN 697 THEN 'X697'
                ELSE country_iso3 END AS iso3
    FROM read_csv($codes, header = true, all_varchar = false)
),
raw AS (
    SELECT t AS year, i, j, lpad(k::VARCHAR, 6, '0') AS hs6, v * 1000 AS v
    FROM read_csv($flows, header = true, columns = {
        't': 'INTEGER', 'i': 'INTEGER', 'j': 'INTEGER', 'k': 'INTEGER',
        'v': 'DOUBLE', 'q': 'VARCHAR'})
),
shares AS (
    SELECT year, ce.iso3 AS exporter, ci.iso3 AS importer, hs6, v,
           v / sum(v) OVER (PARTITION BY year, j, hs6) AS share,
           ce.iso3 LIKE 'X%' AND ce.iso3 <> 'XKX' AS nes  -- residual: totals only
    FROM raw JOIN codes ce ON ce.country_code = i JOIN codes ci ON ci.country_code = j
    WHERE NOT (ci.iso3 LIKE 'X%' AND ci.iso3 <> 'XKX')
)
SELECT year, importer, hs6,
       sum(v) AS import_value_usd,
       count(*) FILTER (WHERE NOT nes) AS n_suppliers,
       coalesce(sum(share * share) FILTER (WHERE NOT nes), 0) AS hhi,
       coalesce(sum(share) FILTER (WHERE exporter IN ('CHN', 'HKG', 'MAC')), 0) AS prc_share,
       max(share) FILTER (WHERE NOT nes) AS top_supplier_share,
       first(exporter ORDER BY share DESC) FILTER (WHERE NOT nes) AS top_supplier
FROM shares GROUP BY ALL ORDER BY ALL
"""


def test_baci_fixture_matches_an_independent_sql_route(store: Store) -> None:
    sources.load(store, "baci", [BACI_2022])
    got = product_exposure(store, year=2022).sort("importer", "hs6")
    want = store.pl(
        INDEPENDENT_SQL,
        {"codes": str(FIXTURES / "country_codes_V202501.csv"), "flows": str(BACI_2022)},
    )
    cols = [
        "importer",
        "hs6",
        "import_value_usd",
        "n_suppliers",
        "hhi",
        "prc_share",
        "top_supplier_share",
        "top_supplier",
    ]
    assert got.height == want.height == 9
    for g, w in zip(
        got.select(cols).iter_rows(), want.select(cols).iter_rows(), strict=True
    ):
        assert g[:2] == w[:2]
        assert g[2] == pytest.approx(w[2])
        assert g[3] == w[3]
        assert g[4:7] == pytest.approx(w[4:7])
        assert g[7] == w[7]
    # Spot check by hand: USA 850511 = CHN 1,200,500 + HKG 150,000 (concern)
    # of V = 1,200,500 + 150,000 + 800,250 + 300,000 + 49,250 = 2,500,000.
    usa = one(got, importer="USA", hs6="850511")
    assert usa["import_value_usd"] == pytest.approx(2_500_000.0)
    assert usa["prc_share"] == pytest.approx(1_350_500 / 2_500_000)
    assert usa["source"] == "baci" and usa["hs_revision"] == "HS2017"
    assert usa["vintage"] == "BACI_HS17_Y2022_V202501.csv"


# -- properties ---------------------------------------------------------------------

SUPPLIERS = ["CHN", "HKG", "JPN", "DEU", "FRA", "IND", "XRW", "X697"]
TIERS = tiers_of(
    2022, concern=["CHN", "HKG", "MAC"], ally=["JPN", "DEU"], partner=["IND", "FRA"]
)


_SHARED: list[Store] = []  # one in-memory store for every example (cheap to clear)


def _exposure(values: dict[str, float], order: list[str], scale: float = 1.0) -> dict:
    if not _SHARED:
        _SHARED.append(Store(":memory:"))
    s = _SHARED[0]
    s.execute("DELETE FROM flows")
    s.execute("DELETE FROM loads")
    insert_flows(s, [(2022, e, "USA", "850511", values[e] * scale) for e in order])
    return exposure_frame(s, rows(s, TIERS)).to_dicts()[0]


@settings(max_examples=15, deadline=None)
@given(
    values=st.dictionaries(
        st.sampled_from(SUPPLIERS),
        st.floats(min_value=0.01, max_value=1e9, allow_nan=False),
        min_size=1,
        max_size=len(SUPPLIERS),
    ),
    seed=st.integers(0, 1000),
    scale=st.floats(min_value=1e-3, max_value=1e3),
)
@example(values={"CHN": 5.0}, seed=0, scale=2.0)  # a single supplier: hhi = 1
def test_properties(values: dict[str, float], seed: int, scale: float) -> None:
    order = sorted(values)
    base = _exposure(values, order)
    named = {e: v for e, v in values.items() if e not in ("XRW", "X697")}
    n = len(named)
    shares = ("prc_share", "ally_share", "partner_share", "other_share")
    assert sum(base[c] for c in shares) == pytest.approx(1.0)
    assert all(0.0 <= base[c] <= 1.0 + 1e-12 for c in shares)
    cover = sum(named.values()) / sum(values.values())
    assert base["coverage"] == pytest.approx(cover)
    # Σ named shares² lies between cover²/n and cover²; the residual as one
    # supplier only adds to it.
    if n:
        assert cover**2 / n - 1e-12 <= base["hhi"] <= cover**2 + 1e-12
    assert base["hhi"] - 1e-12 <= base["hhi_max"] <= 1.0 + 1e-12
    assert base["n_suppliers"] == n
    if n == 1 and cover == 1.0:
        assert base["hhi"] == pytest.approx(1.0)
    shuffled = order[:]
    random.Random(seed).shuffle(shuffled)
    for other in (_exposure(values, shuffled), _exposure(values, order, scale)):
        for col in ("hhi", "hhi_max", "coverage", *shares):
            assert other[col] == pytest.approx(base[col], rel=1e-9, abs=1e-12)
        if n:
            assert other["top_supplier_share"] == pytest.approx(
                base["top_supplier_share"], rel=1e-9, abs=1e-12
            )
        assert other["n_suppliers"] == n
        # Ties may name any of the tied suppliers; never a residual area.
        if n:
            top = named[other["top_supplier"]]
            assert top == pytest.approx(max(named.values()), rel=1e-12)
        else:
            assert other["top_supplier"] is None


# -- blocs --------------------------------------------------------------------------

BLOC_FLOWS = [
    (2022, "CHN", "DEU", "850511", 10.0),
    (2022, "FRA", "DEU", "850511", 30.0),  # intra-bloc
    (2022, "USA", "FRA", "850511", 5.0),
    (2022, "CHN", "FRA", "850511", 5.0),
    (2022, "CHN", "USA", "850511", 99.0),  # not a member's import
]
MEMBERS = pl.DataFrame(
    {"year": [2022, 2022], "iso3": ["DEU", "FRA"]},
    schema={"year": pl.Int16, "iso3": pl.String},
)


def test_bloc_excludes_intra_flows_by_default(store: Store) -> None:
    # Extra-bloc: CHN 10 + 5 = 15, USA 5: V = 20, prc = 0.75,
    # HHI = 0.75² + 0.25² = 0.625, 2 suppliers, top CHN 0.75.
    insert_flows(store, BLOC_FLOWS)
    tiers = tiers_of(2022, concern=["CHN"], ally=["USA", "FRA"])
    df = exposure_frame(store, rows(store, tiers, bloc="eu", members=MEMBERS))
    row = one(df, importer="eu")
    assert (row["import_value_usd"], row["n_suppliers"]) == (20.0, 2)
    assert row["prc_share"] == pytest.approx(0.75)
    assert row["hhi"] == pytest.approx(0.625)
    assert (row["top_supplier"], row["top_supplier_share"]) == ("CHN", 0.75)


def test_bloc_with_intra_flows(store: Store) -> None:
    # With intra: CHN 15, FRA 30, USA 5: V = 50, prc = 0.3,
    # HHI = 0.3² + 0.6² + 0.1² = 0.46, top FRA 0.6, ally (FRA, USA) = 0.7.
    insert_flows(store, BLOC_FLOWS)
    tiers = tiers_of(2022, concern=["CHN"], ally=["USA", "FRA"])
    df = exposure_frame(
        store, rows(store, tiers, bloc="eu", members=MEMBERS, include_intra=True)
    )
    row = one(df, importer="eu")
    assert (row["import_value_usd"], row["n_suppliers"]) == (50.0, 3)
    assert row["prc_share"] == pytest.approx(0.3)
    assert row["hhi"] == pytest.approx(0.46)
    assert row["ally_share"] == pytest.approx(0.7)
    assert (row["top_supplier"], row["top_supplier_share"]) == ("FRA", 0.6)


def test_bloc_residual_areas_count_in_totals_only(store: Store) -> None:
    # Extra-bloc CHN 15, USA 5 plus XRW 40 into DEU and FRA (summed: one residual
    # of 40): V = 60, n = 2, top CHN 15/60 = 0.25, coverage 20/60,
    # hhi = (15² + 5²)/60² = 250/3600, hhi_max = (250 + 40²)/3600 = 1850/3600.
    flows = [
        *BLOC_FLOWS,
        (2022, "XRW", "DEU", "850511", 25.0),
        (2022, "XRW", "FRA", "850511", 15.0),
    ]
    insert_flows(store, flows)
    tiers = tiers_of(2022, concern=["CHN", "XRW"], ally=["USA", "FRA"])
    df = exposure_frame(store, rows(store, tiers, bloc="eu", members=MEMBERS))
    row = one(df, importer="eu")
    assert (row["import_value_usd"], row["n_suppliers"]) == (60.0, 2)
    assert (row["top_supplier"], row["top_supplier_share"]) == ("CHN", 0.25)
    assert row["prc_share"] == pytest.approx(0.25)
    assert row["coverage"] == pytest.approx(20 / 60)
    assert row["hhi"] == pytest.approx(250 / 3600)
    assert row["hhi_max"] == pytest.approx(1850 / 3600)


def test_bloc_through_the_registry(store: Store) -> None:
    insert_flows(store, BLOC_FLOWS)
    row = one(product_exposure(store, bloc="eu"), importer="eu")
    assert row["import_value_usd"] == 20.0
    assert row["prc_share"] == pytest.approx(0.75)


# -- tiers as of each year (needs the real registry) --------------------------------


def test_finland_is_an_ally_in_2024_not_in_2022(store: Store) -> None:
    # FIN joined NATO on 4 April 2023: a partner (EU) in 2022, an ally in 2024.
    # USA imports 810520: FIN 75, CHN 25 in both years.
    rows = [
        (y, e, "USA", "810520", v)
        for y in (2022, 2024)
        for e, v in (("FIN", 75.0), ("CHN", 25.0))
    ]
    insert_flows(store, rows)
    df = product_exposure(store, years=[2022, 2024], importer="USA")
    y2022, y2024 = one(df, year=2022), one(df, year=2024)
    assert (y2022["ally_share"], y2022["partner_share"]) == (0.0, 0.75)
    assert (y2024["ally_share"], y2024["partner_share"]) == (0.75, 0.0)
    assert y2022["prc_share"] == y2024["prc_share"] == 0.25
    assert y2022["concern"] == "prc"


def test_another_concern_group(store: Store) -> None:
    insert_flows(
        store,
        [(2022, "RUS", "USA", "810520", 40.0), (2022, "CHN", "USA", "810520", 60.0)],
    )
    df = product_exposure(store, importer="USA", concern="foreign-adversaries")
    row = one(df, hs6="810520")
    # foreign-adversaries lists China and Russia: both are concern.
    assert row["prc_share"] == pytest.approx(1.0)
    assert row["concern"] == "foreign-adversaries"


# -- which source answers ------------------------------------------------------------


def test_baci_wins_over_comtrade_for_the_same_year(store: Store) -> None:
    insert_flows(
        store, [(2022, "CHN", "USA", "850511", 10.0)], source="baci", load_id=1
    )
    insert_flows(
        store, [(2022, "CHN", "USA", "850511", 99.0)], source="comtrade", load_id=2
    )
    assert product_exposure(store)["import_value_usd"].to_list() == [10.0]
    only = product_exposure(store, source="comtrade")
    assert only["import_value_usd"].to_list() == [99.0]
    assert only["source"].to_list() == ["comtrade"]


def test_newest_baci_revision_when_two_releases_cover_a_year(store: Store) -> None:
    insert_flows(
        store, [(2022, "CHN", "USA", "850511", 10.0)], hs_revision="HS2017", load_id=1
    )
    insert_flows(
        store, [(2022, "CHN", "USA", "850511", 12.0)], hs_revision="HS2022", load_id=2
    )
    df = product_exposure(store)
    assert df["import_value_usd"].to_list() == [12.0]
    assert df["hs_revision"].to_list() == ["HS2022"]


def test_a_year_not_loaded_is_a_parameter_error(store: Store) -> None:
    insert_flows(store, [(y, "CHN", "USA", "850511", 1.0) for y in (2019, 2020, 2022)])
    with pytest.raises(
        ParameterError,
        match=r"No trade flows for 2023; the store holds 2019–2020, 2022\.",
    ):
        product_exposure(store, year=2023)


def test_bad_inputs(store: Store) -> None:
    insert_flows(store, [(2022, "CHN", "USA", "850511", 1.0)])
    with pytest.raises(ParameterError, match="expected six digits"):
        product_exposure(store, hs=["85051"])
    with pytest.raises(ParameterError, match="either an importer or a bloc"):
        product_exposure(store, importer="USA", bloc="eu")
    with pytest.raises(UnknownNameError, match="Did you mean 'nato'"):
        product_exposure(store, bloc="natoo")


# -- industries ----------------------------------------------------------------------


def test_industry_rollup_is_value_weighted() -> None:
    # Two inputs of "magnets": 850511 V=1000 prc 0.6 hhi 0.46; 280530 V=250 prc 0.2
    # hhi 0.68. Rolled up: V = 1250; prc = (600 + 50) / 1250 = 0.52;
    # hhi = (1000·0.46 + 250·0.68) / 1250 = (460 + 170) / 1250 = 0.504.
    products = pl.DataFrame(
        {
            "year": [2022, 2022, 2022],
            "importer": ["USA", "USA", "USA"],
            "hs6": ["850511", "280530", "999999"],
            "import_value_usd": [1000.0, 250.0, 7.0],
            "prc_share": [0.6, 0.2, 1.0],
            "hhi": [0.46, 0.68, 1.0],
        }
    )
    codes = pl.DataFrame(
        {"industry": ["magnets", "magnets"], "hs6": ["850511", "280530"]}
    )
    row = rollup_industries(products, codes).to_dicts()[0]
    assert (row["industry"], row["import_value_usd"], row["n_products"]) == (
        "magnets",
        1250.0,
        2,
    )
    assert row["prc_share"] == pytest.approx(0.52)
    assert row["hhi"] == pytest.approx(0.504)
    assert (row["top_prc_hs6"], row["top_prc_share"]) == ("850511", 0.6)


def test_most_exposed_input_ties_to_the_lower_code_and_none_without_concern() -> None:
    # JPN: two inputs with the same concern value (100 × 0.5 = 50 × 1.0): the lower
    # code wins whatever the row order. KOR: no concern value at all: no input is
    # "most exposed".
    products = pl.DataFrame(
        {
            "year": [2022] * 4,
            "importer": ["JPN", "JPN", "KOR", "KOR"],
            "hs6": ["850511", "280530", "850511", "280530"],
            "import_value_usd": [100.0, 50.0, 10.0, 20.0],
            "prc_share": [0.5, 1.0, 0.0, 0.0],
            "hhi": [1.0, 1.0, 1.0, 1.0],
        }
    )
    codes = pl.DataFrame(
        {"industry": ["magnets", "magnets"], "hs6": ["850511", "280530"]}
    )
    for frame in (products, products.reverse()):
        rows = {r["importer"]: r for r in rollup_industries(frame, codes).to_dicts()}
        assert (rows["JPN"]["top_prc_hs6"], rows["JPN"]["top_prc_share"]) == (
            "280530",
            1.0,
        )
        assert (rows["KOR"]["top_prc_hs6"], rows["KOR"]["top_prc_share"]) == (
            None,
            None,
        )


def test_industry_exposure_uses_the_industry_map(store: Store) -> None:
    # 850511 (magnets) and 280530 (rare-earth metals) are permanent-magnets inputs
    # in the bundled map; 010121 (horses) is in no industry.
    insert_flows(
        store,
        [
            (2022, "CHN", "USA", "850511", 600.0),
            (2022, "JPN", "USA", "850511", 400.0),
            (2022, "CHN", "USA", "280530", 250.0),
            (2022, "CHN", "USA", "010121", 1e6),
        ],
    )
    df = industry_exposure(store, importer="USA", industry="permanent-magnets")
    row = one(df, industry="permanent-magnets")
    # V = 1000 + 250; prc = (600 + 250) / 1250 = 0.68
    assert row["import_value_usd"] == 1250.0
    assert row["prc_share"] == pytest.approx(0.68)


def test_years_that_are_not_contiguous_skip_the_years_between(store: Store) -> None:
    # One load covers 2019–2021; asking for 2019 and 2021 must not read 2020.
    insert_flows(
        store, [(y, "CHN", "USA", "850511", float(y)) for y in (2019, 2020, 2021)]
    )
    df = product_exposure(store, years=[2019, 2021])
    assert sorted(df["year"].to_list()) == [2019, 2021]
    assert sorted(df["import_value_usd"].to_list()) == [2019.0, 2021.0]


def test_rows_come_sorted_by_year_importer_and_hs6_as_text(store: Store) -> None:
    # Issue 17: the CLI no longer sorts the million rows of an all-importer year;
    # the library hands them over in key order, four-digit aggregates in text
    # order among six-digit codes ("010121" < "8505" < "850511" < "8506"), and each
    # year keeps its own provenance.
    rng = random.Random(17)
    importers = ["USA", "DEU", "JPN", "AUS", "FRA", "KOR"]
    codes = ["850511", "010121", "8505", "8506", "280530", "850520", "720260"]
    exporters = ["CHN", "HKG", "IND", "BRA"]
    rows: list[Flow] = []
    for year in (2021, 2022):
        for imp in importers:
            for hs in codes:
                for exp in rng.sample(exporters, 2):
                    rows.append((year, exp, imp, hs, rng.uniform(1, 100)))
    rng.shuffle(rows)
    insert_flows(store, [r for r in rows if r[0] == 2021], source="comtrade")
    insert_flows(store, [r for r in rows if r[0] == 2022], load_id=2)
    keys = ["year", "importer", "hs6"]
    every = product_exposure(store, years=[2021, 2022], hs=codes)
    assert every.height == 2 * len(importers) * len(codes)
    assert every.select(keys).rows() == every.select(keys).sort(keys).rows()
    assert every.filter(pl.col("year") == 2021)["source"].unique().to_list() == [
        "comtrade"
    ]
    assert every.filter(pl.col("year") == 2022)["source"].unique().to_list() == ["baci"]
    six = product_exposure(store, years=[2021, 2022], lookthrough=True)
    assert six.select(keys).rows() == six.select(keys).sort(keys).rows()
    assert six.height == 2 * len(importers) * 5
    magnets = product_exposure(store, years=[2021, 2022], industry="permanent-magnets")
    assert magnets.select(keys).rows() == magnets.select(keys).sort(keys).rows()
    assert set(magnets["hs6"]) == {"850511", "280530"}
    bloc = product_exposure(store, years=[2021, 2022], bloc="eu", hs=codes)
    assert bloc.select(keys).rows() == bloc.select(keys).sort(keys).rows()
    assert bloc.height == 2 * len(codes)
