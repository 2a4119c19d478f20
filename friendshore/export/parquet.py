"""The store's public tables as Hive-partitioned Parquet, with a manifest.

``export_parquet(store, DIR)`` writes what another engine (Apache Spark, a
warehouse, pyarrow) needs to answer the same questions as the store::

    DIR/trade_flows/source=baci/year=2022/data_0.parquet   trade_flows' columns
    DIR/production/edition=MCS2024/…                       production
    DIR/countries/…                                        id, iso3, name, kind
    DIR/registry_members/year=2022/…                       group, iso3 (as of 31 Dec)
    DIR/registry_tiers/year=2022/…                         concern, iso3, tier
    DIR/industry_map/hs_revision=HS2017/…                  industry, hs6, material, …
    DIR/manifest.json                                      provenance and file list

``countries.id`` is the store's integer country code (``country_ids``), the key
the bundled SQL queries group by; the registry tables are the default tiers
(concern ``prc``) and every group's members as of each year of the store. The
manifest carries the store's ``loads`` (file, sha256, rows), which loads answer
for which year, and every written file with its rows, bytes and sha256. It is
written last: a directory without one is an unfinished export, and
:func:`check_manifest` names whatever a manifest lists that is missing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from friendshore.errors import ExportError, ParameterError
from friendshore.store import Store

FORMAT = "friendshore-parquet"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

# Table -> its Hive partition columns.
TABLES: dict[str, tuple[str, ...]] = {
    "trade_flows": ("source", "year"),
    "production": ("edition",),
    "countries": (),
    "registry_members": ("year",),
    "registry_tiers": ("year",),
    "industry_map": ("hs_revision",),
}

_TRADE = """SELECT exporter, importer, hs6, hs_revision, value_usd, quantity_t,
                   basis, load_id, source, year
            FROM trade_flows ORDER BY source, year, hs6, importer, exporter"""
_PRODUCTION = "SELECT * FROM production ORDER BY edition, commodity, stage, year"
_COUNTRIES = """SELECT c.id, c.iso3, n.name, n.kind
                FROM country_ids AS c LEFT JOIN countries AS n USING (iso3)
                ORDER BY c.id"""


def export_parquet(
    store: Store,
    directory: str | Path,
    *,
    overwrite: bool = False,
    concern: str = "prc",
) -> dict[str, Any]:
    """Write the store's public tables under ``directory``; return the manifest.

    Parameters
    ----------
    store
        The store (read only is enough).
    directory
        A new or empty directory; with ``overwrite``, an earlier export there
        (a directory holding a ``manifest.json``) is replaced.
    concern
        The concern group of ``registry_tiers`` (default ``prc``).

    Raises
    ------
    ParameterError
        ``directory`` is a file, or not empty and not an earlier export to
        overwrite.
    """
    from friendshore.export import Provenance
    from friendshore.reference.industries import REVISIONS, load_industries
    from friendshore.reference.registry import load_registry
    from friendshore.selection import trade_loads

    root = Path(directory)
    _prepare(root, overwrite=overwrite)
    registry = load_registry()
    years = sorted(
        {int(r[0]) for r in store.fetchall("SELECT DISTINCT year FROM flows")}
        | {int(r[0]) for r in store.fetchall("SELECT DISTINCT year FROM production")}
    )
    _copy(store, _TRADE, root / "trade_flows", TABLES["trade_flows"])
    _copy(store, _PRODUCTION, root / "production", TABLES["production"])
    _copy(store, _COUNTRIES, root / "countries", ())
    members = pl.DataFrame(
        [
            (y, g, iso3)
            for y in years
            for g in registry.group_names()
            for iso3 in registry.members(g, y)
        ],
        schema={"year": pl.Int16, "group": pl.String, "iso3": pl.String},
        orient="row",
    )
    tiers = pl.concat(
        [
            registry.tiers(y, concern=concern).with_columns(
                pl.lit(y, dtype=pl.Int16).alias("year"),
                pl.lit(concern).alias("concern"),
            )
            for y in years
        ]
        or [pl.DataFrame(schema={"iso3": pl.String, "tier": pl.String})]
    )
    imap = load_industries()
    industry = pl.concat([imap.products(None, rev) for rev in REVISIONS])
    for name, frame in (
        ("registry_members", members),
        ("registry_tiers", tiers),
        ("industry_map", industry),
    ):
        store.register("_export_frame", frame)
        try:
            _copy(store, "SELECT * FROM _export_frame", root / name, TABLES[name])
        finally:
            store.unregister("_export_frame")
    prov = Provenance.of(
        store,
        "export parquet",
        {"directory": str(root), "concern": concern},
        registry_version=registry.version,
    )
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "friendshore_version": prov.version,
        "created_at": prov.created_at,
        "store": str(store.path),
        "registry_version": prov.registry_version,
        "tiers_concern": concern,
        "years": years,
        "loads": json.loads(json.dumps(prov.loads.to_dicts(), default=str)),
        "trade_loads": trade_loads(store).to_dicts(),
        "tables": {
            name: {"partitioning": list(parts), "files": _files(root, name)}
            for name, parts in TABLES.items()
        },
    }
    for table in manifest["tables"].values():
        table["rows"] = sum(f["rows"] for f in table["files"])
    tmp = root / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    tmp.replace(root / MANIFEST)
    return manifest


def _prepare(root: Path, *, overwrite: bool) -> None:
    if root.exists() and not root.is_dir():
        raise ParameterError(f"{root} is a file; give a new or empty directory")
    if root.is_dir() and any(root.iterdir()):
        if not overwrite:
            raise ParameterError(
                f"{root} is not empty; give a new or empty directory "
                "(or --overwrite to replace an earlier export)"
            )
        if not (root / MANIFEST).is_file():
            raise ParameterError(
                f"{root} is not empty and holds no {MANIFEST}: not an export "
                "friendshore will overwrite"
            )
        # The manifest goes first: an export interrupted from here on is partial.
        (root / MANIFEST).unlink()
        for name in TABLES:
            shutil.rmtree(root / name, ignore_errors=True)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {root}: {exc.strerror or exc}") from None


def _copy(store: Store, sql: str, dest: Path, partitions: Sequence[str]) -> None:
    """Write ``sql``'s result under ``dest``, Hive-partitioned when asked."""
    if partitions:
        store.write_parquet(sql, dest, tuple(partitions))
        if not dest.exists():  # nothing to partition: still an (empty) table
            dest.mkdir(parents=True)
        return
    dest.mkdir(parents=True, exist_ok=True)
    store.write_parquet(sql, dest / "data_0.parquet")


def _files(root: Path, table: str) -> list[dict[str, Any]]:
    out = []
    for path in sorted((root / table).rglob("*.parquet")):
        out.append(
            {
                "path": path.relative_to(root).as_posix(),
                "rows": pq.ParquetFile(path).metadata.num_rows,
                "bytes": path.stat().st_size,
                "sha256": _sha256(path),
            }
        )
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def check_manifest(manifest: Any, where: str) -> dict[str, Any]:
    """The manifest if it is a friendshore export's; else a ParameterError."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ParameterError(
            f"{where} is not a friendshore Parquet export (no format "
            f"{FORMAT!r}); write one with `friendshore export parquet`"
        )
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise ParameterError(
            f"{where} has export format version {manifest['format_version']}; "
            f"this friendshore reads up to {FORMAT_VERSION}. Upgrade friendshore."
        )
    tables = manifest.get("tables") or {}
    absent = [t for t in TABLES if t not in tables]
    if absent:
        raise ParameterError(f"{where} lacks the table(s) {', '.join(absent)}")
    return manifest


def listed_files(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every file the manifest lists (``path`` relative to the export, ``bytes``)."""
    return [f for t in manifest["tables"].values() for f in t["files"]]
