"""What curate imports is what it declares, and a fresh install with only its declared
dependencies runs (no package that happens to be in the development venv is relied on)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.conftest import ROOT, write_jsonl

PACKAGE = ROOT / "curate"
# Declared although curate never imports it by name, and why (the test fails on any other).
IMPORTED_INDIRECTLY = {
    "regex": "imported by datatrove.utils.text (used by the filter); datatrove's core install lacks it",
    "sniffio": "imported by httpcore under `curate llm run`; absent, httpcore retries the import on every request",
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(req: str) -> str:
    return _canonical(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req).group(1))


def _declared() -> tuple[set[str], set[str]]:
    """(core dependencies, dependencies of any extra), as canonical distribution names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_requirement_name(r) for r in project["dependencies"]}
    extras = {_requirement_name(r) for reqs in project.get("optional-dependencies", {}).values() for r in reqs}
    return core, extras


def _handles_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names):
            return True
    return False


def _third_party_imports() -> tuple[dict[str, list[str]], set[str]]:
    """Top-level modules curate imports (anywhere, lazily too) -> where; and those whose absence
    some import site handles (`except ImportError`): optional features, which an extra may provide."""
    found: dict[str, list[str]] = {}
    optional: set[str] = set()

    def visit(node: ast.AST, where: str, guarded: bool) -> None:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top == "curate":
                continue
            found.setdefault(top, []).append(f"{where}:{node.lineno}")
            if guarded:
                optional.add(top)
        guard_body = isinstance(node, ast.Try) and _handles_import_error(node)
        for field, value in ast.iter_fields(node):
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, ast.AST):
                    visit(child, where, guarded or (guard_body and field == "body"))

    for path in sorted(PACKAGE.rglob("*.py")):
        visit(ast.parse(path.read_text(), str(path)), str(path.relative_to(ROOT)), False)
    return found, optional


def test_every_third_party_import_is_a_declared_dependency():
    core, extras = _declared()
    dists = packages_distributions()
    imports, optional = _third_party_imports()
    assert {"numpy", "pyarrow", "datatrove", "loguru"} <= imports.keys(), "the import scan found too little"
    problems = []
    for module, sites in sorted(imports.items()):
        provided_by = {_canonical(d) for d in dists.get(module, [])}
        if not provided_by:
            problems.append(f"{module} (imported at {sites[0]}) is not installed in the test environment")
        elif provided_by & core:
            continue
        elif module in optional and provided_by & extras:
            continue  # an optional feature: its absence is handled, and an extra installs it
        else:
            problems.append(f"{module} (imported at {', '.join(sites[:3])}) comes from {sorted(provided_by)}, "
                            f"which pyproject.toml does not declare" + (" (only in an extra)" if provided_by & extras else ""))
    assert not problems, "\n".join(problems)


def test_every_core_dependency_is_imported_or_says_why_not():
    core, _ = _declared()
    dists = packages_distributions()
    imports, _ = _third_party_imports()
    imported = {_canonical(d) for module in imports for d in dists.get(module, [])}
    unused = sorted(core - imported - set(IMPORTED_INDIRECTLY))
    assert not unused, f"declared but never imported by curate: {unused} (move to an extra, or drop)"
    for name in IMPORTED_INDIRECTLY:
        assert name in core, f"{name} is listed as imported indirectly but is not declared"


def _installable_closure(core: set[str]) -> set[str]:
    """The distributions `pip install curate` brings in: the core dependencies and, recursively,
    their own non-extra requirements (markers evaluated for this interpreter)."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    seen, todo = set(), list(core)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = requires(name) or []
        except PackageNotFoundError:
            continue
        for r in map(Requirement, reqs):
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(_canonical(r.name))
    return seen


# Run in a fresh interpreter: modules of installed distributions that `pip install curate` would not
# bring are made unimportable; then every curate module is imported and `curate --help` runs.
_ONLY_DECLARED = """
import importlib, importlib.abc, pkgutil, sys
blocked = set(sys.argv[1].split(","))
class Undeclared(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top not in blocked:
            return None
        raise ModuleNotFoundError(f"No module named {top!r} (not a declared dependency of curate)", name=top)
sys.meta_path.insert(0, Undeclared())
import curate
for m in pkgutil.walk_packages(curate.__path__, "curate."):
    importlib.import_module(m.name)
sys.argv = ["curate", "--help"]
from curate.cli import main
try:
    main()
except SystemExit as e:
    sys.exit(e.code)
"""


def test_curate_imports_and_runs_with_only_its_declared_dependencies_importable():
    """The fast form of the fresh-venv test below: everything the dev venv holds beyond what
    `pip install curate` would bring in is made unimportable (e.g. regex, which datatrove's text
    utilities import but datatrove's core install does not bring)."""
    core, _ = _declared()
    closure = _installable_closure(core)
    dists = packages_distributions()
    blocked = {m for m, ds in dists.items() if m != "curate" and not any(_canonical(d) in closure for d in ds)}
    assert not {"numpy", "datatrove", "loguru"} & blocked and {"spacy", "pytest"} <= blocked
    proc = subprocess.run([sys.executable, "-c", _ONLY_DECLARED, ",".join(sorted(blocked))], capture_output=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert b"ingest" in proc.stdout


def _copy_source(dest: Path) -> Path:
    """pyproject.toml and the package only: installing from the work tree would write build files into it."""
    dest.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    shutil.copytree(PACKAGE, dest / "curate", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


@pytest.mark.slow  # measured 165 s (pip unpacking pyarrow, duckdb, numpy...) on this shared machine
def test_a_fresh_venv_with_only_the_declared_dependencies_runs_curate(tmp_path):
    src = _copy_source(tmp_path / "src")
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(args), capture_output=True, cwd=tmp_path, env=env, timeout=timeout)
        assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout.decode()[-3000:]}\n{proc.stderr.decode()[-3000:]}"
        return proc

    run(sys.executable, "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    # declared dependencies come from the pip cache; nothing curate does not declare is installed
    run(python, "-m", "pip", "install", "--quiet", str(src), timeout=600)
    run(python, "-m", "pip", "check")
    absent = run(python, "-c", "import importlib.util as u; print([m for m in ('datasketch', 'spacy', 'trafilatura', 'pytest') if u.find_spec(m)])")
    assert absent.stdout.decode().strip() == "[]", "the fresh venv holds packages curate does not declare"

    helped = run(str(venv / "bin" / "curate"), "--help")
    assert b"ingest" in helped.stdout and b"dedup" in helped.stdout
    # every module imports: a dependency missing from pyproject fails here, whichever command needs it
    run(python, "-c", "import importlib, pkgutil, curate\n"
                      "for m in pkgutil.walk_packages(curate.__path__, 'curate.'): importlib.import_module(m.name)")

    docs = write_jsonl(tmp_path / "in" / "small.jsonl", [
        {"id": "a", "text": "A first document with a few words in it."},
        {"id": "b", "text": "A second document, also short."},
        {"id": "c", "text": "   "},
    ])
    ran = run(str(venv / "bin" / "curate"), "ingest", str(docs), "-o", str(tmp_path / "out"))
    assert b"Traceback" not in ran.stderr
    import pyarrow.parquet as pq

    kept = pq.read_table(tmp_path / "out" / "small.parquet").to_pylist()
    rejected = pq.read_table(tmp_path / "out" / "rejected" / "small.parquet").to_pylist()
    assert sorted(d["id"] for d in kept) == ["a", "b"] and [d["id"] for d in rejected] == ["c"]
