"""The scenario baseline from the store's coded rows (simulate._coded_rows): keys
decoded, sorted, and a key that several loads hold summed, with the unit-value sums
over the rows that report tonnes only. Expected values worked by hand."""

from __future__ import annotations

import polars as pl

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
        "hs": [6_000_001, 6_000_001, 6_000_002],
        "importer_id": [1, 2, 1],
        "exporter_id": [2, 1, 3],
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
    assert got == {
        "hs": [6_000_001, 6_000_002],
        "importer_id": [4, 1],
        "exporter_id": [2, 3],
        "value_usd": [3.0, 7.0],
        "value_q_usd": [3.0, 0.0],
        "quantity_t": [0.5, 0.0],
    }


def test_markets_from_rows_in_importer_order_equal_any_order() -> None:
    # Flows sorted by (product, importer), as the baseline hands them, number the
    # importer markets by runs; any other order goes through the lookup table.
    # Both must give the same markets; hand-checked on one product: importer 1
    # buys 5 + 2, importer 2 buys 40, so θ of the 5 flow is 5 / 7.
    import numpy as np

    from friendshore.engines.scenarios.solver import Markets

    k = np.array([0, 0, 0, 1, 1, 1, 1])
    i = np.array([1, 1, 2, 0, 0, 2, 2])
    e = np.array([2, 0, 1, 1, 2, 0, 1])
    val = np.array([5.0, 2.0, 40.0, 3.0, 4.0, 6.0, 1.0])
    ordered = Markets.from_arrays(["a", "b"], ["X", "Y", "Z"], k, e, i, val)
    perm = np.array([6, 2, 0, 4, 1, 5, 3])
    shuffled = Markets.from_arrays(
        ["a", "b"], ["X", "Y", "Z"], k[perm], e[perm], i[perm], val[perm]
    )
    assert ordered.theta[0] == 5.0 / 7.0
    assert ordered.v.tolist() == [7.0, 40.0, 7.0, 7.0]  # (a,Y) (a,Z) (b,X) (b,Z)
    for name in ("x_product", "x_country", "m_product", "m_country", "x0", "v"):
        assert getattr(ordered, name).tolist() == getattr(shuffled, name).tolist()
    back = np.argsort(perm)
    for name in ("flow_x", "flow_m", "value", "theta"):
        assert getattr(shuffled, name)[back].tolist() == getattr(ordered, name).tolist()
