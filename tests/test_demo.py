"""The demo job on the bundled real data, checked against the raw files."""

from __future__ import annotations

import csv

import polars as pl

from friendshore.demo import run_demo
from friendshore.reference.industries import load_industries
from friendshore.store import Store

from .conftest import SOURCES


def _mcs2025_share(commodity: str, column: str) -> float:
    """China's share over the listed countries, straight from the raw MCS2025 file."""
    path = SOURCES / "usgs" / "mcs2025" / "MCS2025_World_Data_critical_subset.csv"
    china = total = 0.0
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["COMMODITY"].strip() != commodity:
                continue
            if row["COUNTRY"].strip().startswith("World total"):
                continue
            value = row[column].replace(",", "").strip()
            if not value:
                continue
            total += float(value)
            if row["COUNTRY"].strip() == "China":
                china += float(value)
    return 100 * china / total


def test_demo_headlines_match_the_raw_files(store: Store) -> None:
    tables = run_demo(store)
    loaded, china, us = tables.values()
    assert set(loaded["table"]) == {"trade_flows", "production"}

    gallium = china.filter(pl.col("commodity") == "gallium").row(0, named=True)
    assert gallium["edition"] == "MCS2025" and gallium["year"] == 2024
    assert gallium["china_pct"] == round(_mcs2025_share("Gallium", "PROD_EST_ 2024"), 1)

    # US batteries basket 2024: the import-value-weighted mean of HS6 PRC shares is
    # the basket's PRC value over its total value — plain SQL over trade_flows.
    codes = load_industries().products("batteries", "HS2022")["hs6"].to_list()
    [(prc, total, n)] = store.fetchall(
        """SELECT sum(value_usd) FILTER (WHERE exporter IN ('CHN', 'HKG', 'MAC')),
                  sum(value_usd), count(DISTINCT hs6)
           FROM trade_flows
           WHERE importer = 'USA' AND year = 2024 AND list_contains($codes, hs6)""",
        {"codes": codes},
    )
    row = us.filter(pl.col("industry") == "batteries").row(0, named=True)
    assert row["year"] == 2024 and row["n_products"] == n
    assert row["prc_pct"] == round(100 * prc / total, 1)


def test_demo_twice_is_a_no_op(store: Store) -> None:
    run_demo(store)
    before = store.fetchall("SELECT count(*) FROM loads")
    run_demo(store)
    assert store.fetchall("SELECT count(*) FROM loads") == before


def test_production_headline_never_mixes_editions_within_a_commodity(
    store: Store,
) -> None:
    # Issue 14: titanium concentrates showed MCS2023 (2022) and MCS2024 (2023) rows
    # side by side; each commodity and stage now comes from one edition, and the
    # refinery stages USGS publishes are there.
    tables = run_demo(store)
    title, china = list(tables.items())[1]
    assert "edition" in title
    editions = china.group_by("commodity", "stage").agg(pl.col("edition").n_unique())
    assert editions["edition"].max() == 1
    stages = set(zip(china["commodity"], china["stage"], strict=True))
    assert {("tellurium", "refinery"), ("cadmium", "refinery")} <= stages
    assert ("bauxite and alumina", "refinery") in stages
