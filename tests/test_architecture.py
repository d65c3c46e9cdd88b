"""The house rules of issue 11, checked on the source of the installed packages (``docs/architecture.md``).

- no function over 100 lines;
- no private name (``from x import _y``) or private module (``x._y``) imported from another package;
- ``reengage.dsp`` imports nothing of the application;
- ``reengage.acquisition`` imports nothing of ``reengage.dashboard``;
- imports flow one way: model/errors/session_plan → dsp → acquisition/analysis/catalog/io/validation/synth →
  dashboard and CLI, and nothing imports ``reengage.cli``.

Every import counts, also one inside a function (a lazy import is still a dependency). The packages are
resolved with importlib, so the package-dir mapping of pyproject.toml (``acquisition/`` → ``reengage.acquisition``)
is what is checked. Each rule is also fed a small violating module, so a checker that stopped seeing anything
would fail here instead of passing quietly.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGES = (
    "reengage",
    "reengage.io",
    "reengage.validation",
    "reengage.acquisition",
    "reengage.dsp",
    "reengage.dashboard",
    "reengage.dashboard.pages",
    "reengage.firmware_configs",
)
MAX_FUNCTION_LINES = 100

APP = "reengage"
DSP = "reengage.dsp"
ACQUISITION = "reengage.acquisition"
DASHBOARD = "reengage.dashboard"
CLI = "reengage.cli"
# The bottom layer: plain data types and errors that everything may use and that use nothing above them.
BASE = ("reengage.model", "reengage.errors", "reengage.session_plan")
# The middle layer: turns bytes and files into recordings and analyses; knows nothing of who shows them.
MIDDLE = (
    "reengage.acquisition", "reengage.analysis", "reengage.catalog", "reengage.io", "reengage.validation",
    "reengage.synth",
)
TOP = (DASHBOARD, CLI)


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. reengage.dsp.onsets
    package: str  # the package it belongs to: itself for an __init__.py
    path: str  # for messages
    tree: ast.Module


@dataclass(frozen=True)
class Import:
    line: int
    module: str  # absolute, relative imports resolved
    name: str | None  # None for ``import x``
    target: str  # what is depended on: ``x.y`` for ``from x import y``, ``x`` for ``import x``


def parse_module(name: str, source: str, *, is_package: bool = False, path: str | None = None) -> Module:
    package = name if is_package else name.rpartition(".")[0]
    return Module(name, package, path or f"<{name}>", ast.parse(source))


def installed_modules() -> list[Module]:
    out = []
    for pkg in PACKAGES:
        spec = importlib.util.find_spec(pkg)
        assert spec is not None and spec.submodule_search_locations, f"{pkg}: not an installed package"
        for folder in spec.submodule_search_locations:
            for f in sorted(Path(folder).glob("*.py")):
                is_package = f.stem == "__init__"
                name = pkg if is_package else f"{pkg}.{f.stem}"
                out.append(parse_module(name, f.read_text(encoding="utf-8"), is_package=is_package, path=str(f)))
    return out


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def imports(mod: Module) -> list[Import]:
    """Every import of the module in line order, also those inside functions and ``if TYPE_CHECKING:``."""
    return sorted(_imports(mod), key=lambda i: i.line)


def _imports(mod: Module) -> Iterator[Import]:
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield Import(node.lineno, a.name, None, a.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = mod.package.split(".")
                anchor = ".".join(parts[: len(parts) - (node.level - 1)])
                base = f"{anchor}.{base}" if base else anchor
            for a in node.names:
                target = base if a.name == "*" else f"{base}.{a.name}"
                yield Import(node.lineno, base, None if a.name == "*" else a.name, target)


def _where(mod: Module, line: int) -> str:
    return f"{mod.path}:{line}"


# ------------------------------------------------------------------------------------------------ the rules

def long_functions(mod: Module) -> list[str]:
    """(a) every function (method, nested function) over MAX_FUNCTION_LINES lines, decorators not counted."""
    out = []
    for node in ast.walk(mod.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            if n > MAX_FUNCTION_LINES:
                out.append(f"{_where(mod, node.lineno)}: {node.name} is {n} lines (max {MAX_FUNCTION_LINES})")
    return out


def _owner(module: str) -> str:
    """The package a module's private names belong to: the package itself, or a module's package."""
    return module if module in PACKAGES else module.rpartition(".")[0]


def private_imports(mod: Module) -> list[str]:
    """(b) a private module (``x._y``) or a private name (``from x import _y``) of another package of the
    application. Third-party privates are out of its scope: their boundary is not ours to draw."""
    out = []
    for imp in imports(mod):
        if not _within(imp.module, APP):
            continue
        parts = imp.module.split(".")
        k = next((k for k, part in enumerate(parts) if _private(part)), None)
        if k is not None:
            owner = ".".join(parts[:k])
            if owner != mod.package:
                out.append(f"{_where(mod, imp.line)}: {mod.name} imports the private module "
                           f"{'.'.join(parts[: k + 1])} of {owner}")
        elif imp.name is not None and _private(imp.name) and _owner(imp.module) != mod.package:
            out.append(f"{_where(mod, imp.line)}: {mod.name} imports the private name {imp.name} "
                       f"from {imp.module} (package {_owner(imp.module)})")
    return list(dict.fromkeys(out))  # ``from x._y import a, b`` is one violation, not one per name


def _dependency_rule(applies: Callable[[str], bool], forbidden: Callable[[Module, str], bool], why: str):
    def check(mod: Module) -> list[str]:
        if not applies(mod.name):
            return []
        return [f"{_where(mod, imp.line)}: {mod.name} imports {imp.target}: {why}"
                for imp in imports(mod) if forbidden(mod, imp.target)]

    return check


dsp_is_a_library = _dependency_rule(  # (c)
    lambda m: _within(m, DSP),
    lambda mod, t: _within(t, APP) and not _within(t, DSP),
    "dsp imports nothing of the application",
)
acquisition_without_dashboard = _dependency_rule(  # (d)
    lambda m: _within(m, ACQUISITION),
    lambda mod, t: _within(t, DASHBOARD),
    "acquisition imports nothing of the dashboard",
)
base_imports_only_base = _dependency_rule(  # (e)
    lambda m: any(_within(m, b) for b in BASE),
    lambda mod, t: _within(t, APP) and not any(_within(t, b) for b in BASE),
    "model, errors and session_plan import nothing of the application but each other",
)
middle_without_top = _dependency_rule(  # (e)
    lambda m: any(_within(m, p) for p in MIDDLE),
    lambda mod, t: any(_within(t, p) for p in TOP),
    "acquisition, analysis, catalog, io, validation and synth import neither the dashboard nor the CLI",
)
nothing_imports_cli = _dependency_rule(  # (e)
    lambda m: not _within(m, CLI),
    lambda mod, t: _within(t, CLI),
    "the CLI is the outermost layer; nothing imports it",
)

ERRORS = "reengage.errors"
_BUILTIN_EXCEPTIONS = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}


def _errors_defined_in_errors_module() -> set[str]:
    return {n for n, v in vars(importlib.import_module(ERRORS)).items()
            if isinstance(v, type) and issubclass(v, BaseException) and v.__module__ == ERRORS}


def exceptions_in_one_place(mod: Module) -> list[str]:
    """(f) errors live in ``reengage.errors``: no other module defines an exception class (one whose base is a
    builtin exception, one of reengage.errors' classes, or any ``*Error``/``*Exception`` name)."""
    if mod.name == ERRORS:
        return []
    known = _BUILTIN_EXCEPTIONS | _errors_defined_in_errors_module()
    out = []
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                name = ast.unparse(base).rpartition(".")[2]
                if name in known or name.endswith(("Error", "Exception")):
                    out.append(f"{_where(mod, node.lineno)}: {mod.name} defines the exception {node.name}: "
                               f"errors live in {ERRORS}")
                    break
    return out


RULES = {
    "long_functions": long_functions,
    "private_imports": private_imports,
    "dsp_is_a_library": dsp_is_a_library,
    "acquisition_without_dashboard": acquisition_without_dashboard,
    "base_imports_only_base": base_imports_only_base,
    "middle_without_top": middle_without_top,
    "nothing_imports_cli": nothing_imports_cli,
    "exceptions_in_one_place": exceptions_in_one_place,
}


# ------------------------------------------------------------------------------------- the installed source

@pytest.fixture(scope="module")
def modules() -> list[Module]:
    return installed_modules()


def test_every_package_is_walked(modules):
    names = {m.name for m in modules}
    for pkg in PACKAGES:
        assert pkg in names, f"{pkg}: no __init__.py found"
    # One known module of each mapped folder: the package-dir mapping is honoured, not the repository layout.
    for known in ("reengage.cli", "reengage.acquisition.session", "reengage.dsp.onsets", "reengage.dashboard.data",
                  "reengage.io.recfile", "reengage.validation.validate"):
        assert known in names
    assert any(m.name.startswith("reengage.dashboard.pages.") for m in modules)
    assert sum(1 for m in modules for _ in imports(m)) > 100


@pytest.mark.parametrize("rule", list(RULES))
def test_installed_source_keeps_the_rule(modules, rule):
    problems = [p for m in modules for p in RULES[rule](m)]
    assert not problems, f"{len(problems)} violation(s):\n" + "\n".join(problems)


# ---------------------------------------------------------------------------- each rule sees a violation

def _long_function(lines: int) -> str:
    body = "".join(f"    x{k} = {k}\n" for k in range(lines - 2))
    return f"@decorator\ndef f():\n{body}    return 0\n"


def test_long_functions_are_caught():
    assert long_functions(parse_module("reengage.m", _long_function(100))) == []
    problems = long_functions(parse_module("reengage.m", _long_function(101)))
    assert problems == ["<reengage.m>:2: f is 101 lines (max 100)"]
    nested = "class A:\n    def g(self):\n" + "".join(f"        y = {k}\n" for k in range(101))
    assert [p.split(": ")[0] for p in long_functions(parse_module("reengage.m", nested))] == ["<reengage.m>:2"]


@pytest.mark.parametrize("importer,is_package,source", [
    ("reengage.analysis", False, "from reengage.dsp._util import spans_mask, moving_mean\n"),
    ("reengage.analysis", False, "import reengage.dsp._util\n"),
    ("reengage.analysis", False, "from reengage.dsp import _util\n"),
    ("reengage.analysis", False, "from reengage.dsp.quality import _channel_quality\n"),
    ("reengage.analysis", False, "def f():\n    from reengage.dsp.quality import _channel_quality\n"),
    ("reengage.dashboard.pages.session", False, "from reengage.dashboard.data import _signals\n"),
    ("reengage.dashboard.pages.session", False, "from .._fmt import finite\n"),
    ("reengage.validation", True, "from reengage.synth import _burst\n"),
])
def test_private_imports_across_packages_are_caught(importer, is_package, source):
    problems = private_imports(parse_module(importer, source, is_package=is_package))
    assert len(problems) == 1 and problems[0].startswith(f"<{importer}>:"), problems


@pytest.mark.parametrize("importer,is_package,source", [
    ("reengage.dsp.onsets", False, "from reengage.dsp._util import spans_mask\n"),
    ("reengage.dsp.onsets", False, "from ._checks import check_signal\nfrom . import _util\n"),
    ("reengage.dsp", True, "from reengage.dsp.quality import _channel_quality\n"),
    ("reengage.catalog", False, "from __future__ import annotations\nfrom reengage import __version__\n"),
    ("reengage.batch", False, "from reengage.analysis import _default_threads\n"),
    ("reengage.dashboard.app", False, "from dash import _callback\nimport numpy.lib._stride_tricks_impl\n"),
])
def test_private_helpers_inside_one_package_are_fine(importer, is_package, source):
    """Also out of scope: third-party privates (the last case)."""
    assert private_imports(parse_module(importer, source, is_package=is_package)) == []


def test_dsp_importing_the_application_is_caught():
    source = ("import numpy as np\nfrom scipy import signal\nfrom .options import CleanOptions\n"
              "from reengage.dsp.reps import group_reps\n"
              "def f():\n    from reengage.errors import InputError\n"
              "from .. import model\nimport reengage\n")
    problems = dsp_is_a_library(parse_module("reengage.dsp.onsets", source))
    assert [p.split(": ")[0] for p in problems] == ["<reengage.dsp.onsets>:6", "<reengage.dsp.onsets>:7",
                                                   "<reengage.dsp.onsets>:8"]
    assert "reengage.errors" in problems[0] and "reengage.model" in problems[1]


def test_acquisition_importing_the_dashboard_is_caught():
    source = ("from reengage.acquisition.live import LiveSink\nfrom reengage.model import Item\n"
              "def f():\n    from reengage.dashboard.live import LiveSink\n"
              "from ..dashboard import data\n")
    problems = acquisition_without_dashboard(parse_module("reengage.acquisition.session", source))
    assert [p.split(": ")[0] for p in problems] == ["<reengage.acquisition.session>:4",
                                                   "<reengage.acquisition.session>:5"]


def test_base_importing_above_itself_is_caught():
    ok = "from reengage.model import Event\nfrom reengage.errors import InputError\nimport numpy\n"
    assert base_imports_only_base(parse_module("reengage.session_plan", ok)) == []
    for bad in ("from reengage.dsp.options import DEFAULT_OPTIONS\n", "from reengage import __version__\n",
                "def f():\n    import reengage.io\n"):
        assert len(base_imports_only_base(parse_module("reengage.model", bad))) == 1, bad


def test_middle_importing_dashboard_or_cli_is_caught():
    for importer in ("reengage.catalog", "reengage.io.recfile", "reengage.validation.validate", "reengage.synth",
                     "reengage.analysis", "reengage.acquisition.lsl"):
        for bad in ("from reengage.dashboard.data import load\n", "from reengage.cli import data_root\n",
                    "def f():\n    from reengage import cli\n"):
            assert len(middle_without_top(parse_module(importer, bad))) == 1, (importer, bad)
    ok = "from reengage.dsp import onsets\nfrom reengage.io import load_recording\n"
    assert middle_without_top(parse_module("reengage.catalog", ok)) == []
    # The outer layers are not bound by it.
    assert middle_without_top(parse_module("reengage.demo", "from reengage.dashboard.app import serve\n")) == []


def test_importing_the_cli_is_caught():
    for importer, source in (("reengage.demo", "from reengage.cli import data_root\n"),
                             ("reengage.dashboard.app", "def f():\n    import reengage.cli\n"),
                             ("reengage.dashboard.pages.live", "from ... import cli\n")):
        assert len(nothing_imports_cli(parse_module(importer, source))) == 1, source
    assert nothing_imports_cli(parse_module("reengage.cli", "from reengage.cli import app\n")) == []


def test_an_exception_outside_errors_is_caught():
    for source in ("class Flat(ValueError):\n    pass\n", "from reengage import errors\nclass Gone(errors.Disconnected):\n    pass\n",
                   "from reengage.errors import InputError\nclass BadCsv(InputError):\n    pass\n",
                   "import serial\nclass PortGone(serial.SerialException):\n    pass\n"):
        assert len(exceptions_in_one_place(parse_module("reengage.io.csvio", source))) == 1, source
    ok = "class Recorder:\n    pass\nclass Board(object):\n    pass\n"
    assert exceptions_in_one_place(parse_module("reengage.io.csvio", ok)) == []
    assert exceptions_in_one_place(parse_module(ERRORS, "class InputError(Exception):\n    pass\n")) == []


# ----------------------------------------------------------------- the CLI: every ReengageError is one line, exit 2

def _subclasses(cls: type) -> list[type]:
    return [cls] + [s for sub in cls.__subclasses__() for s in _subclasses(sub)]


def test_cli_turns_every_reengage_error_into_one_line_and_exit_2(monkeypatch, capsys):
    from reengage import cli
    from reengage.errors import ReengageError

    kinds = {c for c in _subclasses(ReengageError) if c.__module__ == ERRORS}
    assert {c.__name__ for c in kinds} >= {"ReengageError", "InputError", "RecordingFormatError",
                                           "BoardConfigError", "DeviceError", "CatalogError"}
    for kind in sorted(kinds, key=lambda c: c.__name__):
        for message, line in ((f"{kind.__name__} happened\nsecond line", f"{kind.__name__} happened"),
                              ("", kind.__name__)):
            def fail(message=message, kind=kind):
                raise kind(message)

            monkeypatch.setattr(cli, "app", fail)
            with pytest.raises(SystemExit) as ex:
                cli.main()
            assert ex.value.code == 2, kind
            captured = capsys.readouterr()
            assert captured.out == "" and captured.err == f"reengage: error: {line}\n", kind
