"""The layer contract (DESIGN.md, Layout): imports only run downward.

cli → api → report → export → engines (engines/, scenarios/) → selection → sources
→ store → reference, with errors/progress/_assets usable everywhere. Every import
counts, also those under ``TYPE_CHECKING`` or inside a function: a lazy import
that runs back up is still an upward arrow. Only the store imports ``duckdb``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "friendshore"

# Highest first. A module may import its own layer and any layer below it.
LAYERS: dict[str, int] = {
    "friendshore.__main__": 10,
    "friendshore.cli": 9,
    "friendshore": 8,  # the package itself: friendshore.open() and the API
    "friendshore.api": 8,
    "friendshore.demo": 8,
    "friendshore.report": 7,
    "friendshore.export": 6,
    "friendshore.engines": 5,
    "friendshore.selection": 4,
    "friendshore.sources": 3,
    "friendshore.store": 2,
    "friendshore.reference": 1,
    "friendshore.errors": 0,
    "friendshore.progress": 0,
    "friendshore._assets": 0,
}


def layer_of(module: str) -> tuple[str, int]:
    """The most specific layer prefix of a dotted module name."""
    best = ""
    for prefix in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(
            best
        ):
            best = prefix
    if not best:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")
    return best, LAYERS[best]


def module_name(path: Path, root: Path = PKG) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, root: Path = PKG) -> list[tuple[int, str]]:
    """(line, module) of every friendshore or duckdb import, relative ones resolved."""
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            if mod == "friendshore":
                # from friendshore import x: x may be a module (a layer) or a name
                found += [(node.lineno, f"friendshore.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, mod))
    return [
        (line, m) for line, m in found if m.split(".")[0] in ("friendshore", "duckdb")
    ]


def upward_imports(root: Path = PKG) -> list[str]:
    """Every import in the package that runs to a higher layer, or duckdb outside the store."""
    bad: list[str] = []
    for path in sorted(root.rglob("*.py")):
        me = module_name(path, root)
        my_layer, my_rank = layer_of(me)
        for line, target in imported_modules(path, root):
            where = f"{path.relative_to(root.parent)}:{line}"
            if target.split(".")[0] == "duckdb":
                if my_layer != "friendshore.store":
                    bad.append(f"{where} imports duckdb outside the store")
                continue
            if target.rpartition(".")[2].startswith("__"):
                continue  # friendshore.__version__: metadata, not a layer
            their_rank = layer_of(target)[1]
            if their_rank > my_rank:
                bad.append(f"{where} {me} ({my_layer}) imports up into {target}")
    return bad


def test_every_module_belongs_to_a_layer() -> None:
    for path in PKG.rglob("*.py"):
        layer_of(module_name(path))


def test_no_import_runs_up_a_layer() -> None:
    assert upward_imports() == []


def test_the_checker_catches_an_upward_import(tmp_path: Path) -> None:
    """A store module that imports an engine, and a loader that imports duckdb, fail."""
    fake = tmp_path / "friendshore"
    (fake / "store").mkdir(parents=True)
    (fake / "sources").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "store" / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from friendshore.engines.exposure import product_exposure\n"
    )
    (fake / "sources" / "baci.py").write_text("import duckdb\nfrom ..store import x\n")
    assert upward_imports(fake) == [
        "friendshore/sources/baci.py:1 imports duckdb outside the store",
        "friendshore/store/__init__.py:3 friendshore.store (friendshore.store) "
        "imports up into friendshore.engines.exposure",
    ]
