"""Named queries: header parsing and validation, typed binding, the CLI, injection."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from friendshore.errors import ParameterError, QueryDefinitionError, UnknownNameError
from friendshore.store import Store
from friendshore.store import catalogue as queries
from friendshore.store.catalogue import Column, parse_query, read_catalogue, run_query

ROOT = Path(__file__).resolve().parent.parent
RAREE_2024 = ROOT / "data" / "sources" / "usgs" / "mcs2024" / "mcs2024-raree_world.csv"
COMTRADE_GA = ROOT / "data" / "sources" / "comtrade" / "gallium_trade_data.csv"
STORE_TABLES = {"trade_flows", "production", "loads", "countries"}

# DuckDB type names → the Polars dtype a result column of that type arrives as.
DUCK_TO_POLARS = {
    "VARCHAR": pl.String,
    "SMALLINT": pl.Int16,
    "INTEGER": pl.Int32,
    "BIGINT": pl.Int64,
    "DOUBLE": pl.Float64,
    "BOOLEAN": pl.Boolean,
    "DATE": pl.Date,
}
SAMPLE_VALUE = {"SMALLINT": "2022", "INTEGER": "2022", "VARCHAR": "x", "DOUBLE": "0.5"}

HEADER = """\
-- name: {name}
-- public: yes
-- description: Quantities of one commodity and year, by country.
-- inputs: production
-- params: {params}
-- grain: country
-- returns: country VARCHAR, quantity DOUBLE
"""
BY_YEAR = (
    "SELECT country, quantity FROM production\n"
    "WHERE year = $year AND commodity = $commodity\n"
    "ORDER BY country\n"
)


def write_query(
    folder: Path,
    name: str,
    body: str = BY_YEAR,
    params: str = "year SMALLINT, commodity VARCHAR",
    header_name: str | None = None,
) -> Path:
    path = folder / f"{name}.sql"
    header = HEADER.format(name=header_name or name, params=params)
    path.write_text(header + body, encoding="utf-8")
    return path


@pytest.fixture
def qdir(tmp_path: Path) -> Path:
    """A catalogue folder with one parameterised query over ``production``."""
    folder = tmp_path / "queries"
    folder.mkdir()
    write_query(folder, "production_by_year")
    write_query(
        folder,
        "production_in",
        "SELECT country, quantity FROM production\n"
        "WHERE list_contains($countries, country) AND quantity >= $at_least\n"
        "ORDER BY country\n",
        params="countries VARCHAR[], at_least DOUBLE",
    )
    # Outside the catalogue: must never be reachable by name.
    (tmp_path / "evil.sql").write_text(
        HEADER.format(name="evil", params="(none)") + "DROP TABLE production\n"
    )
    return folder


@pytest.fixture
def usgs_store(store: Store) -> Store:
    """The store with the real MCS2024 rare-earths world table loaded."""
    from friendshore import sources

    sources.load(store, "usgs", [RAREE_2024])
    return store


# -- the bundled catalogue -------------------------------------------------------


def test_suppliers_header_is_parsed_field_by_field() -> None:
    q = queries.catalogue().get("suppliers")
    assert q.public
    assert q.path.name == "suppliers.sql"
    assert q.inputs == ("trade_flows",)
    assert q.params == (
        Column("importer", "VARCHAR"),
        Column("hs6", "VARCHAR"),
        Column("year", "SMALLINT"),
        Column("source", "VARCHAR"),
    )
    assert q.grain == ("exporter",)
    assert [c.name for c in q.returns] == [
        "exporter",
        "value_usd",
        "share",
        "quantity_t",
    ]
    assert q.description.startswith("Who supplies one importer with one product")
    assert q.description.endswith("so use exposure for those.")  # continuation
    assert q.sql.startswith("SELECT")


def test_query_list_shows_only_the_public_queries() -> None:
    """Engine queries (coded keys, temp tables) are in the catalogue, not listed."""
    cat = queries.catalogue()
    assert cat.public().names() == ["production_by_country", "suppliers"]
    assert not cat.get("exposure_product").public
    assert not cat.get("production_concentration").public  # reads an engine's table
    with pytest.raises(UnknownNameError):
        cat.public().get("exposure_product")


def test_public_must_say_yes_or_no(tmp_path: Path) -> None:
    path = write_query(tmp_path, "production_by_year")
    path.write_text(path.read_text().replace("public: yes", "public: maybe"))
    with pytest.raises(QueryDefinitionError, match=r"production_by_year.sql:2: public"):
        parse_query(path)


def test_every_bundled_file_is_in_the_catalogue_under_its_stem() -> None:
    stems = sorted(p.stem for p in queries.queries_dir().glob("*.sql"))
    assert queries.catalogue().names() == stems


def _store_queries() -> list[str]:
    return [
        q.name
        for q in queries.catalogue().public().queries.values()
        if set(q.inputs) <= STORE_TABLES
        and all(
            p.type.upper() in SAMPLE_VALUE or p.type.endswith("[]") for p in q.params
        )
    ]


@pytest.mark.parametrize("name", _store_queries())
def test_bundled_query_returns_its_declared_columns_and_types(name: str) -> None:
    q = queries.catalogue().get(name)
    params = {p.name: SAMPLE_VALUE.get(p.type.upper(), "") for p in q.params}
    with Store(":memory:") as s:
        df = run_query(s, name, params)
    declared = {c.name: DUCK_TO_POLARS[c.type.upper()]() for c in q.returns}
    assert dict(df.schema) == declared


def test_production_by_country_on_the_real_mcs2024_file(usgs_store: Store) -> None:
    # Hand figures (issue 4): China 240,000 t of the listed 353,320 t in 2023.
    df = run_query(
        usgs_store,
        "production_by_country",
        {"commodity": "rare earths", "stage": "mine", "edition": "MCS2024"},
    ).filter(year=2023)
    top = df.row(0, named=True)
    assert (top["country"], top["quantity"], top["unit"]) == ("CHN", 240_000, "t")
    assert top["share"] == pytest.approx(240_000 / 353_320)
    assert df["quantity"].sum() == 353_320
    assert "WLD" not in df["country"].to_list()


def test_suppliers_on_the_real_comtrade_file(store: Store) -> None:
    from friendshore import sources

    sources.load(store, "comtrade", [COMTRADE_GA])
    df = run_query(
        store,
        "suppliers",
        {"importer": "USA", "hs6": "811292", "year": "2024", "source": "comtrade"},
    )
    assert df["share"].sum() == pytest.approx(1.0)
    assert df["value_usd"].to_list() == sorted(df["value_usd"].to_list(), reverse=True)


# -- header validation -------------------------------------------------------------


def test_name_must_match_the_file_stem(tmp_path: Path) -> None:
    path = write_query(tmp_path, "by_year", header_name="production_by_year")
    with pytest.raises(QueryDefinitionError) as err:
        parse_query(path)
    assert str(err.value) == (
        "by_year.sql:1: name 'production_by_year' differs from the file name 'by_year'"
    )


def test_undeclared_parameter_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write_query(tmp_path, "q", params="year SMALLINT")
    with pytest.raises(QueryDefinitionError) as err:
        parse_query(path)
    # Header lines 1-7, the body's WHERE line is line 9.
    assert str(err.value) == "q.sql:9: $commodity is not declared in the params header"


def test_declared_but_unused_parameter_is_reported(tmp_path: Path) -> None:
    path = write_query(
        tmp_path, "q", params="year SMALLINT, commodity VARCHAR, edition VARCHAR"
    )
    with pytest.raises(QueryDefinitionError) as err:
        parse_query(path)
    assert str(err.value) == (
        "q.sql:5: parameter edition is declared but the SQL never uses $edition"
    )


def test_dollar_words_in_strings_and_comments_are_not_parameters(
    tmp_path: Path,
) -> None:
    body = (
        "SELECT '$price' AS label, \"$col\" AS x -- costs $dollars\n"
        "/* $block\n comment */ FROM production WHERE year = $year\n"
    )
    q = parse_query(write_query(tmp_path, "q", body, params="year SMALLINT"))
    assert q.param_names == ("year",)


def test_missing_header_keys_are_listed_together(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    path.write_text("-- name: q\n-- description: d\nSELECT 1\n")
    with pytest.raises(QueryDefinitionError) as err:
        parse_query(path)
    assert str(err.value) == (
        "q.sql:1: header lacks public, inputs, params, grain, returns (every query "
        "declares name, public, description, inputs, params, grain, returns)"
    )


def test_malformed_header_line_and_unknown_type(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    path.write_text(
        HEADER.format(name="q", params="year SMALLINT").replace("-- grain:", "-- grain")
        + "SELECT $year\n"
    )
    with pytest.raises(
        QueryDefinitionError, match=r"^q\.sql:6: expected '-- key: value'"
    ):
        parse_query(path)
    path2 = write_query(tmp_path, "q2", "SELECT $t\n", params="t STRUCT")
    with pytest.raises(
        QueryDefinitionError,
        match=r"^q2\.sql:5: parameter t has unsupported type STRUCT",
    ):
        parse_query(path2)


# -- binding, errors and injection ----------------------------------------------------


def test_parameters_are_typed_by_the_header(qdir: Path) -> None:
    cat = read_catalogue(qdir)
    assert cat.get("production_by_year").bind({"year": "2023", "commodity": "1"}) == {
        "year": 2023,
        "commodity": "1",  # VARCHAR stays text even when it looks like a number
    }
    assert cat.get("production_in").bind(
        {"countries": "CHN, USA", "at_least": "1e3"}
    ) == {
        "countries": ["CHN", "USA"],
        "at_least": 1000.0,
    }
    assert (
        cat.get("production_in").bind({"countries": "", "at_least": "0"})["countries"]
        == []
    )


def test_missing_extra_and_mistyped_parameters(qdir: Path) -> None:
    q = read_catalogue(qdir).get("production_by_year")
    with pytest.raises(ParameterError) as err:
        q.bind({"year": "2023", "edition": "MCS2024", "x": "1"})
    assert str(err.value) == (
        "query production_by_year: missing commodity (VARCHAR); unknown edition, x "
        "(it takes year (SMALLINT), commodity (VARCHAR))"
    )
    with pytest.raises(ParameterError) as err:
        q.bind({"year": "2023 OR 1=1", "commodity": "x"})
    assert str(err.value) == (
        "query production_by_year: parameter year expects SMALLINT, got '2023 OR 1=1'"
    )


def test_run_with_parameters_on_real_rows(qdir: Path, usgs_store: Store) -> None:
    cat = read_catalogue(qdir)
    df = run_query(
        usgs_store,
        "production_by_year",
        {"year": "2023", "commodity": "rare earths"},
        queries=cat,
    )
    # MCS2024 rare earths, 2023 mine production, read off the file by hand.
    assert dict(zip(df["country"], df["quantity"], strict=True))["CHN"] == 240_000
    assert dict(zip(df["country"], df["quantity"], strict=True))["USA"] == 43_000
    big = run_query(
        usgs_store,
        "production_in",
        {"countries": "CHN,USA,MMR", "at_least": "38000"},
        queries=cat,
    )
    # 2022 and 2023 rows ≥ 38,000 t: China 210,000 and 240,000, Burma 38,000 (2023
    # only), United States 42,000 and 43,000.
    assert big.rows() == [
        ("CHN", 210_000),
        ("CHN", 240_000),
        ("MMR", 38_000),
        ("USA", 42_000),
        ("USA", 43_000),
    ] or sorted(big.rows()) == [
        ("CHN", 210_000),
        ("CHN", 240_000),
        ("MMR", 38_000),
        ("USA", 42_000),
        ("USA", 43_000),
    ]


@pytest.mark.parametrize(
    "value",
    [
        "rare earths' OR '1'='1",
        "rare earths'; DROP TABLE production; --",
        'x"; DELETE FROM production; --',
        "$year",
        "../../etc/passwd",
    ],
)
def test_a_parameter_value_never_changes_the_sql(
    qdir: Path, usgs_store: Store, value: str
) -> None:
    before = usgs_store.fetchall("SELECT count(*) FROM production")[0][0]
    df = run_query(
        usgs_store,
        "production_by_year",
        {"year": "2023", "commodity": value},
        queries=read_catalogue(qdir),
    )
    assert df.height == 0  # compared as a literal string: no commodity has that name
    assert usgs_store.fetchall("SELECT count(*) FROM production")[0][0] == before == 32


@pytest.mark.parametrize(
    "name",
    [
        "../evil",
        "../queries/production_by_year",
        "production_by_year.sql",
        "production_by_year; DROP TABLE production",
        "/etc/passwd",
        "evil",
    ],
)
def test_a_name_never_reaches_outside_the_catalogue(
    qdir: Path, usgs_store: Store, name: str
) -> None:
    with pytest.raises(UnknownNameError, match=r"^Unknown query "):
        run_query(usgs_store, name, {}, queries=read_catalogue(qdir))
    assert usgs_store.fetchall("SELECT count(*) FROM production")[0][0] == 32


def test_unknown_name_suggests_the_close_one(qdir: Path) -> None:
    with pytest.raises(UnknownNameError) as err:
        read_catalogue(qdir).get("production_by_yaer")
    assert str(err.value) == (
        "Unknown query 'production_by_yaer'. Did you mean 'production_by_year'?"
    )


def test_an_input_the_store_lacks_is_a_clear_error(tmp_path: Path) -> None:
    path = write_query(tmp_path, "q", "SELECT * FROM tiers\n", params="(none)")
    path.write_text(
        path.read_text().replace("-- inputs: production", "-- inputs: tiers")
    )
    with Store(":memory:") as s, pytest.raises(ParameterError) as err:
        run_query(s, "q", queries=read_catalogue(tmp_path))
    assert str(err.value) == "query q reads tiers, which this store does not have"


# -- the CLI ---------------------------------------------------------------------


@pytest.fixture
def cli_qdir(qdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI sees the test catalogue instead of the bundled one."""
    cat = read_catalogue(qdir)
    monkeypatch.setattr(queries, "catalogue", lambda: cat)
    return qdir


def test_cli_list_shows_every_header(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("query", "list")
    assert r.exit_code == 0
    assert "suppliers\n  Who supplies one importer with one product" in r.stdout
    assert "  inputs:   production\n" in r.stdout
    assert "exposure_product" not in r.stdout
    listed = json.loads(cli("query", "list", "--format", "json").stdout)
    assert [q["name"] for q in listed] == ["production_by_country", "suppliers"]


def test_cli_run_csv_with_params(cli, cli_qdir: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("load", "usgs", RAREE_2024).exit_code == 0
    r = cli(
        "query",
        "run",
        "production_in",
        "--param",
        "countries=AUS,CHN",
        "--param",
        "at_least=0",
        "--format",
        "csv",
    )
    assert r.exit_code == 0, r.stderr
    expected = _csv_rows(RAREE_2024, {"Australia": "AUS", "China": "CHN"})
    got = pl.read_csv(r.stdout.encode()).sort("country", "quantity")
    assert got.rows() == sorted(expected)


def _csv_rows(path: Path, names: dict[str, str]) -> list[tuple[str, float]]:
    """(ISO3, quantity) of every numeric row of the given countries, by csv module."""
    import csv

    out = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Country"] in names:
                for col in ("Prod_t_est_2022", "Prod_t_est_2023"):
                    text = row.get(col, "").replace(",", "").strip()
                    if text and text.replace(".", "").isdigit():
                        out.append((names[row["Country"]], float(text)))
    return out


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (
            ["nope"],
            "Error: Unknown query 'nope'. Expected one of: production_by_year, production_in\n",
        ),
        (
            ["production_by_yea"],
            "Error: Unknown query 'production_by_yea'. Did you mean 'production_by_year'?\n",
        ),
        (
            ["../evil"],
            "Error: Unknown query '../evil'. Expected one of: production_by_year, production_in\n",
        ),
        (
            ["production_by_year", "-p", "year=2023"],
            "Error: query production_by_year: missing commodity (VARCHAR)\n",
        ),
        (
            [
                "production_by_year",
                "-p",
                "year=2023",
                "-p",
                "commodity=x",
                "-p",
                "limit=1",
            ],
            "Error: query production_by_year: unknown limit (it takes year (SMALLINT), commodity (VARCHAR))\n",
        ),
        (
            ["production_by_year", "-p", "year"],
            "Error: --param expects KEY=VALUE, got 'year'\n",
        ),
        (
            ["production_by_year", "-p", "year=1", "-p", "year=2"],
            "Error: --param year is given twice\n",
        ),
        (
            ["production_by_year", "-p", "year=20x", "-p", "commodity=x"],
            "Error: query production_by_year: parameter year expects SMALLINT, got '20x'\n",
        ),
    ],
)
def test_cli_errors_are_one_line_exit_2(
    cli, cli_qdir: Path, args: list[str], stderr: str
) -> None:  # type: ignore[no-untyped-def]
    r = cli("query", "run", *args)
    assert (r.exit_code, r.stderr) == (2, stderr)


def test_cli_parquet_carries_provenance(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from friendshore import __version__
    from friendshore.reference.registry import load_registry

    assert cli("load", "usgs", RAREE_2024).exit_code == 0
    out = tmp_path / "share.parquet"
    r = cli(
        "query",
        "run",
        "production_by_country",
        "-p",
        "commodity=rare earths",
        "-p",
        "stage=mine",
        "-p",
        "edition=MCS2024",
        "--format",
        "parquet",
        "--out",
        out,
    )
    assert r.exit_code == 0, r.stderr
    f = pq.ParquetFile(out)
    assert f.metadata.row_group(0).column(0).compression == "ZSTD"
    meta = {k.decode(): v.decode() for k, v in f.schema_arrow.metadata.items()}
    assert meta["friendshore.version"] == __version__
    assert meta["friendshore.command"] == "query run"
    assert json.loads(meta["friendshore.params"]) == {
        "query": "production_by_country",
        "params": {"commodity": "rare earths", "stage": "mine", "edition": "MCS2024"},
    }
    assert meta["friendshore.registry_version"] == load_registry().version
    (load,) = json.loads(meta["friendshore.loads"])
    assert load["file_name"] == "mcs2024-raree_world.csv"
    assert load["sha256"] == hashlib.sha256(RAREE_2024.read_bytes()).hexdigest()
    made = datetime.fromisoformat(meta["friendshore.created_at"])
    assert timedelta(0) <= datetime.now(UTC) - made < timedelta(minutes=5)
    rows = f.read().to_pylist()
    (china,) = [r for r in rows if (r["country"], r["year"]) == ("CHN", 2023)]
    assert china["quantity"] == 240_000
