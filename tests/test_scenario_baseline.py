"""The scenario baseline from the store's coded rows (simulate._coded_rows): keys
sorted, and a key that several loads hold summed, with the unit-value sums over the
rows that report tonnes only; and the markets the baseline numbers from them against
Markets.from_frame over the same flows. Expected values worked by hand."""

from __future__ import annotations

import math

import polars as pl
import pytest

from friendshore.engines.scenarios.simulate import _coded_rows


def _key(hs: int, importer: int, exporter: int) -> int:
    return hs * 2**32 + importer * 2**16 + exporter


def test_coded_rows_sorts_decodes_and_sums_the_loads_of_a_key() -> None:
    rows = pl.DataFrame(
        {
            "key": [
                _key(6_000_001, 2, 1),  # load 1, with tonnes
                _key(6_000_001, 1, 2),
                _key(6_000_001, 2, 1),  # load 2: the same key, no tonnes
                _key(6_000_002, 1, 3),
            ],
            "value_usd": [10.0, 5.0, 30.0, 7.0],
            "quantity_t": [2.0, 0.0, 0.0, 1.0],
        }
    )
    got = {k: v.tolist() for k, v in _coded_rows(rows).items()}
    assert got == {
        "key": [_key(6_000_001, 1, 2), _key(6_000_001, 2, 1), _key(6_000_002, 1, 3)],
        "value_usd": [5.0, 40.0, 7.0],  # 10 + 30
        "value_q_usd": [0.0, 10.0, 7.0],  # only the row with tonnes
        "quantity_t": [0.0, 2.0, 1.0],
    }


def test_coded_rows_of_one_load_already_unique() -> None:
    rows = pl.DataFrame(
        {
            "key": [_key(6_000_002, 1, 3), _key(6_000_001, 4, 2)],
            "value_usd": [7.0, 3.0],
            "quantity_t": [0.0, 0.5],
        }
    )
    got = {k: v.tolist() for k, v in _coded_rows(rows).items()}
    assert got == {  # unique keys: the unit-value sums come from the rows as they are
        "key": [_key(6_000_001, 4, 2), _key(6_000_002, 1, 3)],
        "value_usd": [3.0, 7.0],
        "quantity_t": [0.5, 0.0],
    }


def test_store_baseline_numbers_the_markets_as_from_frame(db_path) -> None:
    # The store path numbers products and importer markets by runs of the sorted
    # key and exporter markets through a lookup table; Markets.from_frame groups
    # labelled rows with Polars. Every flow's θ, its exporter's X0 and its
    # importer's V must agree (by labels: the two order countries differently).
    # Hand check: USA's imports of 811292 are 60,000 + 10,000 + 30,000.
    import numpy as np

    from friendshore.engines.scenarios.model import Scenario
    from friendshore.engines.scenarios.simulate import _pin, baseline
    from friendshore.engines.scenarios.solver import Markets
    from friendshore.reference.industries import load_industries
    from friendshore.reference.registry import load_registry
    from friendshore.store import Store

    from .test_scenarios_store import FLOWS, Y, build_store

    rows = [*FLOWS, ("USA", "JPN", "811291", 5_000.0, 1.0)]
    rows += [
        ("KOR", "USA", "811291", 7_000.0, 2.0),
        ("CHN", "JPN", "811291", 1.0, None),
    ]
    build_store(db_path, rows)
    sc = Scenario(name="b", coalition=("USA",), hs=("811291", "811292"), year=Y)
    with Store(db_path, read_only=True) as store:
        pinned = _pin(store, sc, None, load_registry(), load_industries())
        mk, units = baseline(store, pinned)
    ref = Markets.from_frame(
        pl.DataFrame(
            rows, schema=["exporter", "importer", "hs6", "value_usd", "t"], orient="row"
        )
    )

    def per_flow(m: Markets) -> dict[tuple[str, str, str], tuple[float, float, float]]:
        prod = m.products[m.x_product[m.flow_x]]
        exp = m.countries[m.x_country[m.flow_x]]
        imp = m.countries[m.m_country[m.flow_m]]
        return {
            (str(k), str(e), str(i)): (float(t), float(x0), float(v))
            for k, e, i, t, x0, v in zip(
                prod, exp, imp, m.theta, m.x0[m.flow_x], m.v[m.flow_m], strict=True
            )
        }

    got, want = per_flow(mk), per_flow(ref)
    # each flow's importer market is of the flow's product
    prod_m = mk.products[mk.m_product[mk.flow_m]]
    assert prod_m.tolist() == mk.products[mk.x_product[mk.flow_x]].tolist()
    assert got.keys() == want.keys()
    for flow, figures in want.items():
        assert got[flow] == pytest.approx(figures, rel=1e-12), flow
    assert got[("811292", "CHN", "USA")][2] == 100_000.0
    assert sorted(mk.products.tolist()) == ["811291", "811292"]
    # the importer markets are in (product, importer) order, flows in runs of them
    assert np.all(np.diff(mk.flow_m) >= 0)
    # unit values: CHN 811292 USD 2,000/t; JPN (no tonnes) unknown
    unit = dict(
        zip(
            zip(
                mk.products[mk.x_product].tolist(),
                mk.countries[mk.x_country].tolist(),
                strict=True,
            ),
            units.tolist(),
            strict=True,
        )
    )
    assert unit[("811292", "CHN")] == 2_000.0
    assert math.isnan(unit[("811292", "JPN")])
    assert math.isnan(unit[("811291", "CHN")])
