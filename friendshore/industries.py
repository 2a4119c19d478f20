"""Defense-critical industries → HS6 inputs, with upstream links and concordance.

INTERFACE CONTRACT (implemented in issue 3; the exposure and scenario engines code
against exactly these names):

* ``load_industries() -> IndustryMap``
* ``IndustryMap.names() -> list[str]`` — e.g. ``permanent-magnets``, ``batteries``.
* ``IndustryMap.products(industry: str | None = None, hs_revision: str = "HS2017")
  -> pl.DataFrame`` with columns ``industry, hs6, hs_revision, material, stage,
  source`` — codes expressed in the requested revision (via the concordance);
  ``industry=None`` gives every industry. Unknown industry → ``UnknownNameError``.
* ``IndustryMap.upstream(hs_revision: str = "HS2017") -> pl.DataFrame`` with
  columns ``hs6, upstream_hs6`` — the upstream inputs of each product, used by the
  look-through exposure (one level; the engine follows the chain).
* ``IndustryMap.commodities() -> pl.DataFrame`` — ``material, commodity`` mapping
  industry-map materials to USGS commodity names (as stored in ``production``).
"""

from __future__ import annotations
