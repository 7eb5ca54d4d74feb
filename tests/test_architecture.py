"""The shape of the code: no import cycle anywhere in pprl (function-level imports
included), the verification core imports no engine, and the library never imports the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "pprl"


def _modules(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` under ``root``."""
    out = {}
    for f in (root / package).rglob("*.py"):
        parts = list(f.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _imported_names(mod: str, f: Path) -> set[str]:
    """Every module name ``mod`` imports, at module level or inside functions, outside
    ``if TYPE_CHECKING:`` blocks (relative imports resolved)."""
    tree = ast.parse(f.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = mod.split(".") if f.name == "__init__.py" else mod.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join(here + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def import_graph(root: Path, package: str) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges between the package's modules, every imported name per module)."""
    files = _modules(root, package)

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {m: set() for m in files}
    raw: dict[str, set[str]] = {}
    for mod, f in files.items():
        raw[mod] = _imported_names(mod, f)
        for name in raw[mod]:
            target = resolve(name)
            if target and target != mod:
                edges[mod].add(target)
    return edges, raw


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    return import_graph(ROOT, PACKAGE)


def test_no_import_cycle(graph):
    edges, _ = graph
    assert len(edges) > 30  # the graph was really built
    assert cycles(edges) == []


def test_cycle_finder_finds_cycles():
    """The checker itself: a two-module and a three-module cycle are found, a chain is not."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_function_level_imports_count(tmp_path):
    """An import inside a function is an edge; one under TYPE_CHECKING is not."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pkg import b\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from pkg.c import X\nfrom . import a\n"
    )
    (pkg / "c.py").write_text("")
    edges, _ = import_graph(tmp_path, "pkg")
    assert edges["pkg.a"] == {"pkg", "pkg.b"} and edges["pkg.b"] == {"pkg", "pkg.a"}
    assert cycles(edges) == [["pkg.a", "pkg.b"]]


def test_verification_core_imports_no_engine(graph):
    """Every module of the core (pprl.verify.*; the package's __init__ is the public entry
    that picks an engine) and the matching core never import an engine."""
    edges, _ = graph
    core = [m for m in edges if m.startswith("pprl.verify.")] + [
        "pprl.match_core",
        "pprl.partition",
        "pprl.store",
    ]
    assert "pprl.verify.plan" in core
    for mod in core:
        engines = sorted(
            t for t in edges[mod] if t == "pprl.engines" or t.startswith("pprl.engines.")
        )
        assert not engines, f"{mod} imports {engines}"


def test_engines_depend_on_the_core_only_through_its_modules(graph):
    """Engines import core modules, never the pprl.verify / pprl.match entry points (which
    import the engines)."""
    edges, _ = graph
    for mod in [m for m in edges if m.startswith("pprl.engines")]:
        assert not {"pprl.verify", "pprl.match"} & edges[mod], mod


def test_library_never_imports_the_cli(graph):
    _, raw = graph
    for mod, names in raw.items():
        assert not [n for n in names if n.split(".")[0] == "pprl_cli"], mod


def test_dask_only_in_the_dask_engine(graph):
    _, raw = graph
    users = sorted(
        m
        for m, names in raw.items()
        if any(n.split(".")[0] in ("dask", "distributed") for n in names)
    )
    assert users == ["pprl.engines.dask"]


def test_the_core_never_imports_the_service(graph):
    """The service (pprl.service.*) depends on the library; nothing outside it imports it."""
    _, raw = graph
    assert any(m.startswith("pprl.service.") for m in raw)  # the service is in the graph
    for mod, names in raw.items():
        if mod == "pprl.service" or mod.startswith("pprl.service."):
            continue
        assert not [n for n in names if n == "pprl.service" or n.startswith("pprl.service.")], mod
