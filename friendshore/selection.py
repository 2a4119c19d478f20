"""Which rows: the one place that decides what an engine reads.

A :class:`Selection` is built once, from the CLI's shared options or an API call's
arguments (:meth:`Selection.build`), and handed to the engines: the years and the
loads answering for each, one importer or a bloc (members as of each year), the
products (explicit codes or an industry's inputs in each year's HS revision), the
registry tiers as of each year, and the provenance of it all. The store applies it
through one row filter, the ``selected_flows`` table macro, with :meth:`params`.

Which loads of ``trade_flows`` answer for which year:

The store may hold the same year from several sources (BACI and Comtrade), and BACI
from several releases in different HS revisions. Summing them would count a flow
twice, so every exposure metric first picks, per year, ONE source:

* ``source`` given: that source (``table`` matches every ``table:<name>``);
* otherwise the first present of ``baci`` (harmonised, mirror-reconciled),
  ``comtrade`` (reported), then ``table:<name>`` sources in name order;
* for BACI, when a year is loaded from several HS revisions, the newest revision.

The choice is expressed as ``(year, load_id)`` keys, an integer filter that costs
next to nothing inside the one-pass aggregation, and read from the small ``loads``
table (plus one ``LIMIT 1`` probe per load), never from a scan of the flows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from friendshore.errors import ParameterError
from friendshore.reference import countries
from friendshore.reference.industries import REVISIONS, IndustryMap, load_industries
from friendshore.reference.registry import DEFAULT_CONCERN, Registry, load_registry
from friendshore.store import Store
from friendshore.store.layout import KEY_BASE

_HS_CODE = re.compile(r"^\d{4}(\d{2})?$")

# Source preference when none is asked for: BACI reconciles both reporting sides.
SOURCE_ORDER = ("baci", "comtrade")

_LOAD_SCHEMA = {
    "year": pl.Int16,
    "load_id": pl.Int32,
    "source": pl.String,
    "hs_revision": pl.String,
    "basis": pl.String,
    "file_name": pl.String,
}


@dataclass(frozen=True)
class Loads:
    """The part of a :class:`Selection` that says which loads answer for each year.

    ``loads``: ``year, load_id, source, hs_revision, basis, file_name``;
    ``complete_years``: the years whose chosen loads are every load of that year
    (the per-row load filter can then be skipped: it costs ~10 % of the one-pass
    aggregation). Built by :func:`select_flows`; engines read it through a
    :class:`Selection`, never on its own.
    """

    loads: pl.DataFrame
    complete_years: frozenset[int] = frozenset()

    @property
    def years(self) -> list[int]:
        """The years selected, ascending."""
        return sorted(set(self.loads["year"].to_list()))

    @property
    def revisions(self) -> list[str]:
        """HS revisions of the selected rows."""
        return sorted(set(self.loads["hs_revision"].to_list()))

    @property
    def complete(self) -> bool:
        """Every load of every selected year is chosen, and the years are
        contiguous (so ``year BETWEEN`` alone is exact)."""
        years = self.years
        return (
            bool(years)
            and years == list(range(years[0], years[-1] + 1))
            and set(years) <= self.complete_years
        )

    def only(self, years: Sequence[int]) -> Loads:
        """The same choice restricted to ``years``."""
        return Loads(
            self.loads.filter(pl.col("year").is_in([int(y) for y in years])),
            self.complete_years & {int(y) for y in years},
        )

    def params(self) -> dict[str, Any]:
        """The DuckDB parameters every flow query filters on."""
        keys = [
            int(y) * KEY_BASE + int(i)
            for y, i in self.loads.select("year", "load_id").iter_rows()
        ]
        years = self.years
        return {
            "all_loads": self.complete,
            "keys": keys,
            "year_min": min(years) if years else 0,
            "year_max": max(years) if years else -1,
        }

    def provenance(self) -> pl.DataFrame:
        """Per year: ``source``, ``hs_revision``, ``basis``, ``vintage`` (file names)."""

        def joined(col: str) -> pl.Expr:
            return pl.col(col).unique().sort().str.join("+")

        return (
            self.loads.group_by("year")
            .agg(
                joined("source").alias("source"),
                joined("hs_revision").alias("hs_revision"),
                joined("basis").alias("basis"),
                pl.col("file_name").unique().sort().str.join(", ").alias("vintage"),
            )
            .sort("year")
        )


def trade_loads(store: Store) -> pl.DataFrame:
    """Every load of ``trade_flows`` with its rows' source, revision and basis.

    A store that is not a DuckDB file (the Spark engine's Parquet export) answers
    from its own ``trade_loads()``: the same frame, written down at export time.
    """
    own = getattr(store, "trade_loads", None)
    if callable(own):
        return own().cast(_LOAD_SCHEMA)
    loads = store.fetchall(
        """SELECT load_id, source, file_name, years, dataset_key FROM loads
           WHERE target = 'trade_flows' ORDER BY load_id"""
    )
    rows: list[dict[str, Any]] = []
    for load_id, source, file_name, years, dataset_key in loads:
        if source == "baci" and re.fullmatch(r"HS\d{4}:\d{4}", dataset_key or ""):
            # A BACI file is one revision throughout, named in its dataset key
            # (HS2017:2022): no query per load, which a 30-year panel read one
            # year at a time would pay 30 times per year.
            rev = dataset_key.split(":")[0]
            kinds = [
                (int(y), "baci", rev, "baci") for y in (years or "").split(",") if y
            ]
        elif source == "baci":
            # A BACI file is one revision and one basis throughout: one row tells.
            kind = store.fetchall(
                """SELECT source, hs_revision, basis FROM flows
                   WHERE load_id = $id LIMIT 1""",
                {"id": load_id},
            )
            kinds = [(int(y), *kind[0]) for y in (years or "").split(",") if y and kind]
        else:
            kinds = store.fetchall(
                """SELECT DISTINCT year, source, hs_revision, basis FROM flows
                   WHERE load_id = $id""",
                {"id": load_id},
            )
        for year, src, rev, basis in kinds:
            rows.append(
                {
                    "year": year,
                    "load_id": load_id,
                    "source": src,
                    "hs_revision": rev,
                    "basis": basis,
                    "file_name": file_name,
                }
            )
    return pl.DataFrame(rows, schema=_LOAD_SCHEMA)


def loaded_years(store: Store) -> list[int]:
    """Years with trade flows in the store, ascending."""
    return sorted(set(trade_loads(store)["year"].to_list()))


def _source_rank(source: str) -> tuple[int, str]:
    if source in SOURCE_ORDER:
        return (SOURCE_ORDER.index(source), source)
    return (len(SOURCE_ORDER), source)


def _matches(source: str, wanted: str) -> bool:
    return source == wanted or source.split(":", 1)[0] == wanted


def select_flows(
    store: Store,
    years: Sequence[int] | None = None,
    *,
    source: str | None = None,
) -> Loads:
    """Choose the loads that answer for each year (see the module docstring).

    Parameters
    ----------
    store
        The store.
    years
        Years wanted; ``None`` means the latest year with trade flows.
    source
        Use only this source (``baci``, ``comtrade``, ``table`` or ``table:<name>``).

    Raises
    ------
    ParameterError
        A wanted year has no flows (of the wanted source); the message lists what
        the store holds.
    """
    all_loads = trade_loads(store)
    if source is not None:
        all_loads = all_loads.filter(
            pl.col("source").map_elements(
                lambda s: _matches(s, source), return_dtype=pl.Boolean
            )
        )
    present = sorted(set(all_loads["year"].to_list()))
    of_source = f" from source {source!r}" if source else ""
    if not present:
        raise ParameterError(
            f"The store holds no trade flows{of_source}; load BACI, Comtrade or a "
            "table first (friendshore load …)."
        )
    wanted = [present[-1]] if years is None else sorted({int(y) for y in years})
    missing = [y for y in wanted if y not in present]
    if missing:
        raise ParameterError(
            f"No trade flows{of_source} for {', '.join(map(str, missing))}; "
            f"the store holds {_year_ranges(present)}."
        )
    chosen: list[pl.DataFrame] = []
    for year in wanted:
        here = all_loads.filter(pl.col("year") == year)
        if source is None:
            best = min(set(here["source"].to_list()), key=_source_rank)
            here = here.filter(pl.col("source") == best)
        if (here["source"] == "baci").all():
            # Several BACI releases of one year: the newest HS revision only.
            newest = max(here["hs_revision"].to_list())
            here = here.filter(pl.col("hs_revision") == newest)
        chosen.append(here)
    picked = pl.concat(chosen).sort("year", "load_id")
    everything = trade_loads(store) if source is not None else all_loads

    def pairs(frame: pl.DataFrame, year: int) -> set[int]:
        return set(frame.filter(pl.col("year") == year)["load_id"].to_list())

    # A year is complete when its chosen loads are all of its loads (compared per
    # year: a load spanning several years may be chosen in one and not another).
    complete = frozenset(y for y in wanted if pairs(everything, y) == pairs(picked, y))
    return Loads(picked, complete_years=complete)


def _year_ranges(years: list[int]) -> str:
    """``2017–2019, 2022`` for a sorted list of years."""
    parts: list[str] = []
    start = prev = years[0]
    for y in [*years[1:], None]:
        if y is not None and y == prev + 1:
            prev = y
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if y is not None:
            start = prev = y
    return ", ".join(parts)


# -- the rest of "which rows": importer or bloc, products, tiers ---------------------


def parse_hs(codes: Sequence[str] | None) -> list[str] | None:
    """Validate HS codes: six digits, or four for Comtrade's HS4 aggregates."""
    if codes is None:
        return None
    cleaned = [c.strip() for c in codes]
    bad = [c for c in cleaned if not _HS_CODE.match(c)]
    if bad:
        raise ParameterError(
            f"HS code(s) {', '.join(map(repr, bad))}: expected six digits "
            "(or four for an HS4 aggregate), e.g. 850511"
        )
    return sorted(set(cleaned))


def resolve_years(year: int | None, years: Sequence[int] | None) -> list[int] | None:
    """One list of years from ``year`` or ``years`` (``None``: the latest loaded)."""
    if year is not None and years is not None:
        raise ParameterError("give either year or years, not both")
    if year is not None:
        return [int(year)]
    return None if years is None else sorted({int(y) for y in years})


def tiers_frame(
    registry: Registry,
    years: Sequence[int],
    *,
    concern: str = DEFAULT_CONCERN,
    allies: Sequence[str] | None = None,
    partners: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Registry tiers as of each year: ``year`` (Int16), ``iso3``, ``tier``."""
    frames = [
        registry.tiers(y, concern=concern, allies=allies, partners=partners)
        .select("iso3", "tier")
        .with_columns(pl.lit(y, dtype=pl.Int16).alias("year"))
        for y in years
    ]
    return pl.concat(frames).select("year", "iso3", "tier")


def members_frame(registry: Registry, group: str, years: Sequence[int]) -> pl.DataFrame:
    """Members of ``group`` as of each year: ``year`` (Int16), ``iso3``."""
    rows = [(y, iso3) for y in years for iso3 in registry.members(group, y)]
    return pl.DataFrame(
        rows, schema={"year": pl.Int16, "iso3": pl.String}, orient="row"
    )


def industry_codes(
    industries: IndustryMap,
    industry: str | None,
    revisions: Sequence[str],
    *,
    include_broader: bool = False,
) -> pl.DataFrame:
    """``industry, hs6, hs_revision`` of an industry (all when ``None``) in every
    revision given; codes broader than the input left out unless ``include_broader``."""
    frames = [
        industries.products(industry, rev, include_broader=include_broader)
        for rev in revisions
    ]
    return (
        pl.concat(frames)
        .select("industry", "hs6", "hs_revision")
        .unique()
        .sort("industry", "hs_revision", "hs6")
    )


def normalise_importer(importer: str | None) -> str | None:
    """Upper-case ISO3 (or X-code) of a known country or area; else a ParameterError.

    A known code with no imports in the store gives an empty result, a typo (``XXX``,
    ``UK``) an error: an empty table must not be the answer to a misspelt code.
    """
    if importer is None:
        return None
    code = importer.strip().upper()
    if countries.is_residual(code):
        raise ParameterError(
            f"importer {importer!r}: a residual or unspecified area (the part of a "
            "total no country is named for), not an importer"
        )
    if re.fullmatch(r"[A-Z]{3}", code) and countries.is_known(code):
        return code
    guess = countries.normalise(importer)
    hint = f" Did you mean {guess!r}?" if guess and guess != code else ""
    raise ParameterError(
        f"importer {importer!r}: unknown country, expected an ISO 3166 alpha-3 code "
        f"such as USA.{hint}"
    )


def hs_params(hs: Sequence[str] | None) -> dict[str, Any]:
    """The product arguments of the row filter: every six-digit code, or these."""
    return {"all_hs": hs is None, "hs": list(hs or [])}


@dataclass(frozen=True, eq=False)
class Selection:
    """Which rows an engine reads, decided once (:meth:`build`).

    ``loads``: the loads answering for each year; ``importer`` or ``bloc`` (with its
    ``members`` as of each year, ``include_intra``); ``hs``: the products (``None``:
    every six-digit code), ``codes`` an industry's inputs per revision when the
    products came from an industry (or from every industry, ``industry_level``);
    ``tiers``: ``year, iso3, tier`` of the registry as of each year for the
    ``concern`` group, allies and partners.
    """

    loads: Loads
    tiers: pl.DataFrame
    concern: str = DEFAULT_CONCERN
    importer: str | None = None
    bloc: str | None = None
    members: pl.DataFrame | None = None
    include_intra: bool = False
    hs: tuple[str, ...] | None = None
    industry: str | None = None
    codes: pl.DataFrame | None = None
    source: str | None = None
    registry: Registry | None = None
    industries: IndustryMap | None = None
    include_broader: bool = False

    @property
    def years(self) -> list[int]:
        """The years selected, ascending."""
        return self.loads.years

    @property
    def revisions(self) -> list[str]:
        """HS revisions of the selected rows."""
        return self.loads.revisions

    def params(self) -> dict[str, Any]:
        """The arguments of the store's row filter (``selected_flows``)."""
        return self.loads.params() | hs_params(self.hs)

    def provenance(self) -> pl.DataFrame:
        """Per year: ``source``, ``hs_revision``, ``basis``, ``vintage``."""
        return self.loads.provenance()

    def only(self, years: Sequence[int]) -> Selection:
        """The same selection restricted to ``years`` (a panel read a year at a
        time, the first or last year of a window)."""
        keep = [int(y) for y in years]

        def of(frame: pl.DataFrame | None) -> pl.DataFrame | None:
            return None if frame is None else frame.filter(pl.col("year").is_in(keep))

        tiers = of(self.tiers)
        assert tiers is not None
        return replace(
            self, loads=self.loads.only(keep), tiers=tiers, members=of(self.members)
        )

    @classmethod
    def build(
        cls,
        store: Store,
        *,
        year: int | None = None,
        years: Sequence[int] | None = None,
        window: int | None = None,
        importer: str | None = None,
        bloc: str | None = None,
        hs: Sequence[str] | None = None,
        industry: str | None = None,
        industry_level: bool = False,
        concern: str = DEFAULT_CONCERN,
        allies: Sequence[str] | None = None,
        partners: Sequence[str] | None = None,
        include_intra: bool = False,
        registry: Registry | None = None,
        industries: IndustryMap | None = None,
        source: str | None = None,
        include_broader: bool = False,
        need_industries: bool = False,
    ) -> Selection:
        """Check the arguments and resolve them against the store and registry.

        ``window``: the loaded years of the ``window`` years ending in ``year``
        (default the latest), as the GeoDep flags read them. ``industry_level``
        with no ``industry``: the products are every industry's inputs (in any
        revision; each row later counts in the revision its year was loaded in).

        Raises
        ------
        ParameterError
            Both an importer and a bloc, both codes and an industry, a year the
            store lacks, an unknown importer or a malformed HS code.
        """
        if importer is not None and bloc is not None:
            raise ParameterError("give either an importer or a bloc, not both")
        if hs is not None and industry is not None:
            raise ParameterError("give either HS codes or an industry, not both")
        if industry_level and hs is not None:
            raise ParameterError("the industry level takes an industry, not HS codes")
        code = normalise_importer(importer)
        reg = registry or load_registry()
        imap = industries
        if industry is not None or need_industries or industry_level:
            imap = industries or load_industries()
        wanted = resolve_years(year, years)
        if window is not None:
            if years is not None:
                raise ParameterError("a window ends in one year, not several years")
            last = select_flows(store, wanted, source=source).years[-1]
            present = set(loaded_years(store))
            wanted = [y for y in range(last - window + 1, last + 1) if y in present]
        loads = select_flows(store, wanted, source=source)
        yrs = loads.years
        tiers = tiers_frame(reg, yrs, concern=concern, allies=allies, partners=partners)
        members = members_frame(reg, bloc, yrs) if bloc is not None else None
        products = parse_hs(hs)
        codes = None
        if industry is not None or industry_level:
            assert imap is not None
            # One industry: its inputs in the selected revisions; every industry
            # (the industry level): in any revision, cut to each row's revision
            # when the rows are rolled up.
            revisions = loads.revisions if industry is not None else REVISIONS
            codes = industry_codes(
                imap, industry, revisions, include_broader=include_broader
            )
            products = sorted(set(codes["hs6"].to_list()))
        return cls(
            loads=loads,
            tiers=tiers,
            concern=concern,
            importer=code,
            bloc=bloc,
            members=members,
            include_intra=include_intra,
            hs=None if products is None else tuple(products),
            industry=industry,
            codes=codes,
            source=source,
            registry=reg,
            industries=imap,
            include_broader=include_broader,
        )
