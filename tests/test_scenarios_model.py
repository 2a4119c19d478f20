"""Scenario files (issue 15 keys): strict parsing, one-line errors naming file and
key, the examples, and files written for the first engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from friendshore.engines.scenarios.model import (
    DEFAULT_CAPACITY_EXPANSION,
    DEFAULT_RESHORING_COST,
    DEFAULT_SUBSTITUTION,
    FLAGS,
    Scenario,
    Uncertainty,
    from_mapping,
    gather,
    load_scenario,
    parse_coalition,
)
from friendshore.errors import ParameterError
from friendshore.reference.industries import load_industries
from friendshore.reference.registry import load_registry

from .conftest import DATA

SCENARIOS = DATA / "scenarios"

ISSUE_EXAMPLE = """\
name = "G7 ban on PRC gallium"
coalition = ["USA", "JPN"]       # importers or registry groups that apply the policy;
                                 # importer = "USA" and bloc = "eu" stay as one-member forms
year = 2022
hs = ["811292"]                  # or industry = "…"
concern = "prc"
policy = "ban"                   # ban | tariff | cap
eligible = ["us-treaty-allies"]  # who may add capacity; default: not concern, not foreign-adversaries
capacity_expansion = 0.2
reshoring = 0.1                  # domestic capacity as a share of baseline imports
reshoring_cost = 1.6             # price (baseline 1) at which that capacity is fully used
[capacity_expansion_by_supplier]
JPN = 0.05
[elasticities]                   # defaults documented with their source, overridable per file
substitution = 4.0
demand = 0.6
supply = 1.5
[uncertainty]                    # seeded draws over elasticities and capacity → p5/p50/p95
draws = 200
seed = 7
substitution = [2.0, 6.0]
capacity_expansion = [0.1, 0.3]
"""

# A file of the first engine (issue 5): importer + max_concern_share only.
OLD_STYLE = """\
name = "US magnets: cap PRC at 20 %"
importer = "USA"
year = 2022
industry = "permanent-magnets"
concern = "prc"
max_concern_share = 0.2
eligible = ["us-treaty-allies", "mnna"]
capacity_expansion = 0.25
reshoring = 0.05
"""


@pytest.fixture(scope="module")
def names() -> dict[str, list[str]]:
    return {
        "groups": load_registry().group_names(),
        "industries": load_industries().names(),
    }


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_issue_example_parses_to_the_dataclass(tmp_path: Path, names) -> None:
    sc = load_scenario(write(tmp_path, ISSUE_EXAMPLE), **names)
    assert sc == Scenario(
        name="G7 ban on PRC gallium",
        coalition=("USA", "JPN"),
        year=2022,
        hs=("811292",),
        concern="prc",
        policy="ban",
        eligible=("us-treaty-allies",),
        capacity_expansion=0.2,
        reshoring=0.1,
        reshoring_cost=1.6,
        capacity_expansion_by_supplier=(("JPN", 0.05),),
        substitution=4.0,
        demand=0.6,
        supply=1.5,
        uncertainty=Uncertainty(
            draws=200, seed=7, capacity_expansion=(0.1, 0.3), substitution=(2.0, 6.0)
        ),
    )
    with pytest.raises(AttributeError):
        sc.name = "other"  # type: ignore[misc]  # frozen


def test_a_file_of_the_first_engine_keeps_working(tmp_path: Path, names) -> None:
    sc = load_scenario(write(tmp_path, OLD_STYLE), **names)
    assert (sc.coalition, sc.policy, sc.max_concern_share) == (("USA",), "cap", 0.2)
    assert sc.substitution == DEFAULT_SUBSTITUTION
    assert sc.reshoring_cost == DEFAULT_RESHORING_COST
    old_draws = OLD_STYLE + "[uncertainty]\ndraws = 10\nunit_value_scale = [0.9, 1.2]\n"
    msg = _error(tmp_path, names, old_draws)
    assert "key 'uncertainty.unit_value_scale': no longer used" in msg


def test_defaults_and_optional_keys(tmp_path: Path, names) -> None:
    text = 'bloc = "eu"\nhs = ["850511", "280530", "850511"]\n'
    sc = load_scenario(write(tmp_path, text, "eu-magnets.toml"), **names)
    assert sc.name == "eu-magnets"  # the file name
    assert (sc.coalition, sc.coalition_label, sc.policy) == (("eu",), "eu", "ban")
    assert sc.hs == ("850511", "280530")  # duplicates dropped, order kept
    assert sc.concern == "prc" and sc.eligible is None
    assert sc.capacity_expansion == DEFAULT_CAPACITY_EXPANSION
    assert sc.reshoring == 0.0 and sc.uncertainty is None
    everything = from_mapping(
        {"name": "x", "importer": "all", "hs": "all", "max_concern_share": 1}, **names
    )
    assert everything.coalition == ("all",) and everything.all_products
    tariff = from_mapping(
        {
            "name": "t",
            "coalition": ["g7"],
            "hs": "all",
            "policy": "tariff",
            "tariff": 0.25,
        },
        **names,
    )
    assert (tariff.policy, tariff.tariff, tariff.coalition) == ("tariff", 0.25, ("g7",))


def test_every_example_scenario_parses(names) -> None:
    files = sorted(SCENARIOS.glob("*.toml"))
    assert len(files) >= 5
    parsed = [load_scenario(f, **names) for f in files]
    assert len({sc.name for sc in parsed}) == len(parsed)  # side by side needs this
    # Each example's header cites what it models.
    for f in files:
        assert f.read_text(encoding="utf-8").startswith("#"), f.name
    ga_ge = [sc for sc in parsed if "Ga/Ge" in sc.name]
    assert {sc.coalition for sc in ga_ge} == {("USA",), ("JPN",)}
    assert all(sc.policy == "ban" and "811292" in sc.hs for sc in ga_ge)
    # Lynas separates in Malaysia: no example gives Australia separation capacity.
    assert all("AUS" not in dict(sc.capacity_expansion_by_supplier) for sc in parsed)


def _error(path: Path, names, text: str) -> str:
    with pytest.raises(ParameterError) as info:
        load_scenario(write(path, text), **names)
    return str(info.value)


BASE = 'importer = "USA"\nindustry = "batteries"\nmax_concern_share = 0.2\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            BASE + "max_concern_shares = 0.1\n",
            "key 'max_concern_shares': unknown key. Did you mean 'max_concern_share'?",
        ),
        (
            BASE.replace("0.2", '"20 %"'),
            "key 'max_concern_share': expected a number, got a string '20 %'",
        ),
        (
            BASE.replace("0.2", "1.5"),
            "key 'max_concern_share': expected a number <= 1, got 1.5",
        ),
        (
            BASE + "reshoring = true\n",
            "key 'reshoring': expected a number, got a boolean True",
        ),
        (
            BASE + 'eligible = ["natoo"]\n',
            "key 'eligible': unknown registry group 'natoo'. Did you mean 'nato'?",
        ),
        (
            BASE + 'concern = "prc "\nconcern2 = 1\n',
            "key 'concern2': unknown key. Did you mean 'concern'?",
        ),
        (
            BASE.replace('"batteries"', '"batterie"'),
            "key 'industry': unknown industry 'batterie'. Did you mean 'batteries'?",
        ),
        (
            BASE.replace('industry = "batteries"', 'hs = ["850599"]'),
            "key 'hs': unknown HS6 code '850599' (not in HS2017/HS2022). "
            "Heading 8505 has: 850511, 850519, 850520, 850590",
        ),
        (
            BASE.replace('industry = "batteries"', "hs = [850511]"),
            "key 'hs': expected a non-empty list of strings, got a list [850511]",
        ),
        (
            BASE.replace('"USA"', '"United States"'),
            "key 'importer': unknown country 'United States' (expected ISO3). "
            "Did you mean 'USA'?",
        ),
        (
            BASE + 'bloc = "eu"\n',
            "key 'coalition': give exactly one of coalition (a list of ISO3 codes or "
            "registry groups), importer (ISO3 or 'all') and bloc",
        ),
        (
            BASE + "[capacity_expansion_by_supplier]\nJPN = -1\n",
            "key 'capacity_expansion_by_supplier.JPN': expected a number >= 0, got -1",
        ),
        (
            BASE + "[uncertainty]\ndraws = 10\ncapacity_expansion = [0.5, 0.1]\n",
            "key 'uncertainty.capacity_expansion': expected low <= high, got [0.5, 0.1]",
        ),
        (
            BASE + "[uncertainty]\ndraws = 10\n",
            "key 'uncertainty': give a range to draw from: capacity_expansion, "
            "substitution, demand or supply",
        ),
        (
            BASE + "[uncertainty]\ndraws = 10\nsead = 3\n",
            "key 'uncertainty.sead': unknown key. Did you mean 'seed'?",
        ),
        (
            BASE + 'policy = "embargo"\n',
            "key 'policy': expected one of ban, tariff, cap, got a string 'embargo'",
        ),
        (
            BASE.replace("max_concern_share = 0.2", 'policy = "tariff"'),
            "key 'tariff': missing (a number is required)",
        ),
        (
            BASE + 'policy = "ban"\n',
            "key 'max_concern_share': only with policy = \"cap\" (this is 'ban')",
        ),
        (
            BASE + "[elasticities]\nsubstitution = 0.8\n",
            "key 'elasticities.substitution': expected a number above 1, got 0.8 with "
            "a cap (at σ ≤ 1 a price wedge cannot lower a share)",
        ),
        (
            BASE + "[elasticities]\nsupply = -1\n",
            "key 'elasticities.supply': expected a number >= 0, got -1",
        ),
        (
            BASE + "[elasticities]\nsigma = 3\n",
            "key 'elasticities.sigma': unknown key. Expected one of: substitution, "
            "demand, supply",
        ),
        (
            BASE + "reshoring_cost = 0.9\n",
            "key 'reshoring_cost': expected a price above 1 (the baseline import "
            "price), got 0.9",
        ),
        (
            BASE.replace('importer = "USA"', 'coalition = ["USA", "prc"]'),
            "key 'coalition': the coalition names the concern group 'prc'",
        ),
        (
            BASE.replace('importer = "USA"', 'coalition = ["USA", "g77"]'),
            "key 'coalition': unknown registry group 'g77'. Did you mean 'g7'?",
        ),
    ],
)
def test_bad_scenarios_name_the_file_and_key(
    tmp_path: Path, names, text: str, expected: str
) -> None:
    assert _error(tmp_path, names, text) == f"{tmp_path / 's.toml'}, {expected}"


def test_not_toml_and_missing_file(tmp_path: Path, names) -> None:
    msg = _error(tmp_path, names, "importer = USA\n")
    assert msg.startswith(f"{tmp_path / 's.toml'}: not valid TOML: ")
    assert "\n" not in msg
    with pytest.raises(ParameterError, match="no such scenario file"):
        load_scenario(tmp_path / "absent.toml", **names)


def test_flags_build_one_scenario_and_errors_name_the_flag(names) -> None:
    [sc] = gather(
        [],
        {
            "importer": "USA",
            "industry": "batteries",
            "max_concern_share": 0.0,
            "capacity_range": (0.1, 0.4),
        },
        draws=100,
        seed=3,
        **names,
    )
    assert sc.uncertainty == Uncertainty(100, 3, (0.1, 0.4))
    with pytest.raises(ParameterError) as info:
        gather(
            [], {"importer": "USA", "industry": "batteries", "policy": "cap"}, **names
        )
    assert str(info.value) == (
        "command line, --max-concern-share: missing (a number is required)"
    )
    with pytest.raises(ParameterError) as info:
        gather(
            [],
            {"importer": "USA", "industry": "bateries", "max_concern_share": 0},
            **names,
        )
    assert str(info.value) == (
        "command line, --industry: unknown industry 'bateries'. "
        "Did you mean 'batteries'?"
    )


def test_files_and_flags_do_not_mix(tmp_path: Path, names) -> None:
    path = write(tmp_path, BASE)
    with pytest.raises(
        ParameterError, match=r"^--importer: give either scenario files"
    ):
        gather([path], {"importer": "JPN"}, **names)
    # --draws on a file without [uncertainty] ranges is an error naming the file.
    with pytest.raises(ParameterError) as info:
        gather([path], {}, draws=10, **names)
    assert str(info.value).startswith(f"{path}, key 'uncertainty': --draws needs")


# -- the rules the simulate command used to hold (now the library's) ----------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("usa, us-treaty-allies", ("USA", "us-treaty-allies")),
        ("eu,jpn,", ("eu", "JPN")),
        ("quad", ("quad",)),
    ],
)
def test_a_coalition_value_splits_on_commas_and_upper_cases_iso3(
    text: str, expected: tuple[str, ...]
) -> None:
    assert parse_coalition(text) == expected


def test_an_empty_coalition_value_is_refused() -> None:
    with pytest.raises(ParameterError, match="--coalition: expected ISO3 codes"):
        parse_coalition(" , ")


def test_flags_hs_all_is_every_product() -> None:
    # `--hs all` arrives as the list ["all"]: the scenario is every product, as
    # `hs = "all"` in a file.
    flags = dict.fromkeys(FLAGS) | {"importer": "USA", "hs": ["all"]}
    (sc,) = gather([], flags | {"policy": "ban"})
    assert sc.all_products and sc.coalition == ("USA",)
    (listed,) = gather([], flags | {"hs": ["811292"], "policy": "ban"})
    assert not listed.all_products and listed.hs == ("811292",)
