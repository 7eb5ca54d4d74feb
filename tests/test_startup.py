"""A light start-up: the ``pprl`` entry point, its help and version, and the light
library modules load no numerical library (numpy, pyarrow, numba, clkhash, dask,
matplotlib). Each command imports what it needs when it runs. Checked in a fresh
interpreter (``sys.modules``), never by timing; the times are in benchmarks/."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

#: Top-level packages that must not load before a command runs. (typer itself loads
#: pydantic to check option values, also for a subcommand's --help: not pprl's choice.)
HEAVY = (
    "numpy",
    "pyarrow",
    "numba",
    "llvmlite",
    "clkhash",
    "dask",
    "matplotlib",
    # the service's libraries: loaded only when a service command runs
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "httpx",
)

#: Every command's --help, the group's help and --version, run in one interpreter.
HELP_RUNS = [
    ["--help"],
    ["--version"],
    [],
    *(
        [name, "--help"]
        for name in (
            "keygen",
            "encode",
            "inspect",
            "match",
            "verify",
            "synth",
            "evaluate",
            "demo",
            "audit",
            "schema",
            "serve",
            "campaign",
            "client",
            "audit-log",
        )
    ),
    ["campaign", "create", "--help"],
    ["campaign", "revoke", "--help"],
    ["client", "upload", "--help"],
    ["audit-log", "verify", "--help"],
    ["schema", "show", "--help"],
    ["schema", "list", "--help"],
]


def _loaded_after(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; return its exit status and the heavy
    packages then in ``sys.modules``."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "sys.__stderr__.write('\\nLOADED ' + json.dumps(heavy) + '\\n')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    lines = [line for line in proc.stderr.splitlines() if line.startswith("LOADED ")]
    assert lines, f"probe failed (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return {"returncode": proc.returncode, "heavy": json.loads(lines[-1][7:]), "out": proc.stdout}


def test_entry_point_imports_no_heavy_package():
    """``import pprl_cli.main`` (the console script's module) loads none of them."""
    result = _loaded_after("import pprl_cli.main")
    assert result["returncode"] == 0
    assert result["heavy"] == []


def test_help_and_version_import_no_heavy_package():
    """Building every command's help (option defaults included) and printing the
    version loads none of them either."""
    code = (
        "from pprl_cli.main import app\n"
        f"for argv in {HELP_RUNS!r}:\n"
        "    try:\n"
        "        app(argv, prog_name='pprl')\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, 2, None), (argv, exc.code)\n"
    )
    result = _loaded_after(code)
    assert result["returncode"] == 0
    assert result["heavy"] == []
    out = str(result["out"])
    assert "Usage: pprl encode" in out and "Usage: pprl verify" in out  # the helps ran
    assert "pprl 0." in out  # --version


def test_probe_sees_a_heavy_import():
    """The probe itself: a module that loads numpy is reported."""
    assert {"numba", "numpy"} <= set(_loaded_after("import pprl.encode.kernels")["heavy"])


@pytest.mark.parametrize(
    "module",
    ["pprl", "pprl.schema", "pprl.synth", "pprl.synth.config", "pprl.verify", "pprl.encode"],
)
def test_light_library_modules(module):
    """Schemas, the synth options, the verification vocabulary and the package
    namespaces import without the numerical libraries."""
    assert _loaded_after(f"import {module}")["heavy"] == []


@pytest.mark.parametrize("package", ["pprl.synth", "pprl.verify", "pprl.encode"])
def test_lazy_packages_export_every_name(package):
    """Each name of a lazily loaded package's ``__all__`` resolves to the object its
    defining module holds; an unknown name is an AttributeError."""
    mod = importlib.import_module(package)
    for name in mod.__all__:
        value = getattr(mod, name)
        assert value is not None
        home = getattr(value, "__module__", None)
        if isinstance(home, str) and home.startswith(package + "."):
            assert getattr(importlib.import_module(home), name) is value
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        mod.no_such_name  # noqa: B018
    star: dict[str, object] = {}
    exec(f"from {package} import *", star)  # noqa: S102 (the star import works too)
    assert set(mod.__all__) <= set(star)
