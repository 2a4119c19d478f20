"""Allies/partners registry: groups with dated membership, answering "as of year".

INTERFACE CONTRACT (implemented in issue 3; the exposure engine and the scenario
engine code against exactly these names):

* ``load_registry(user_file: Path | None = None) -> Registry`` — bundled
  ``data/registry/`` merged with an optional user TOML/CSV (``--registry FILE``).
* ``Registry.group_names() -> list[str]``
* ``Registry.members(group: str, year: int) -> list[str]`` — ISO3 codes, sorted;
  membership as of 31 December of ``year``; unknown group → ``UnknownNameError``.
* ``Registry.tiers(year: int, *, concern: str = "prc",
  allies: Sequence[str] | None = None, partners: Sequence[str] | None = None)
  -> pl.DataFrame`` with columns ``iso3`` (String), ``tier`` (String: concern |
  ally | partner); countries absent are tier ``other``. Defaults: allies =
  ``["us-treaty-allies"]``, partners = every other non-concern group.
* ``Registry.version -> str`` — the registry's "as of" date / content hash, for
  provenance.
* ``Registry.members_frame() -> pl.DataFrame`` — ``group, iso3, role, since,
  until, source`` (dates), all groups, for loading into the store.
"""

from __future__ import annotations
