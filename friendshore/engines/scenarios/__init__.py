"""Scenario engine: global market clearing per product (DESIGN.md, "Scenario model").

- :mod:`.solver` — the per-product Armington equilibrium (:func:`~.solver.solve`);
- :mod:`.model` — scenario files (TOML) and their validation;
- :mod:`.simulate` — the baseline from the store and the result tables.
"""
