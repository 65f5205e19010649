"""The package layout holds: each subpackage imports only the packages inside it, says what it
owns, only the edge (adapters, runtime, config) touches SDKs, the network and the settings, and
the local stack stays out of the deployed package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "video_monitoring"
MAX_LINES = 500  # a module longer than this holds more than one responsibility
# Innermost first: a package may import itself and the packages listed for it.
INNER = ("core", "config", "privacy", "ingest")
FIGURES = frozenset({*INNER, "alerting", "warehouse", "analytics"})
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "config": frozenset(INNER[:1]),
    "privacy": frozenset(INNER[:2]),
    "ingest": frozenset(INNER[:3]),
    "alerting": frozenset(INNER),
    "warehouse": frozenset(INNER),
    "analytics": FIGURES - {"analytics"},
    "dashboard": FIGURES,
    "adapters": FIGURES | {"dashboard"},
    "runtime": FIGURES | {"dashboard", "adapters"},
}
# The edge: the only packages that may talk to a cloud SDK or the network, or read the settings;
# everything inside gets clients, transports and setting values passed in (runtime/bootstrap.py).
EDGE = frozenset({"adapters", "runtime", "config"})
# Cloud SDKs, web frameworks and network transports (a module and everything under it). `email`
# is not here: building a message is pure; sending it (smtplib, ssl) is the transport.
SDK_MODULES = (
    "firebase_admin", "firebase_functions", "functions_framework", "google", "grpc",
    "flask", "werkzeug", "requests", "urllib3", "httpx", "aiohttp",
    "smtplib", "ssl", "socket", "http.client", "http.server", "urllib.request",
    "ftplib", "imaplib", "poplib", "xmlrpc.client",
)  # fmt: skip
SETTINGS_READER = "get_settings"


def imported_packages(path: Path) -> set[str]:
    """The video_monitoring subpackages a module imports (at any depth of its code)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "video_monitoring" and len(parts) > 1:
                found.add(parts[1])
    return found


def _is_sdk(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in SDK_MODULES)


def edge_violations(path: Path) -> list[str]:
    """`line: rule` for each SDK or network import and each use of `get_settings` in a module."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if any(a.name == SETTINGS_READER for a in node.names):
                found.append(f"{node.lineno}: imports {SETTINGS_READER} (settings: the edge only)")
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            if isinstance(node, ast.Call):
                called = node.func
                name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", "")
                if name == SETTINGS_READER:
                    found.append(f"{node.lineno}: calls {SETTINGS_READER}() (pass the values in)")
            continue
        sdk = sorted({n for n in names if _is_sdk(n)}, key=len)
        if sdk:
            found.append(f"{node.lineno}: imports {sdk[0]} (SDK or network: the edge only)")
    return found


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_subpackage_is_in_the_layering_and_says_what_it_owns() -> None:
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages == set(ALLOWED)
    for name in packages:
        doc = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text()))
        assert doc and "Import" in doc, f"{name}/__init__.py must say what it owns and imports"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layering(path: Path) -> None:
    relative = path.relative_to(PACKAGE)
    imported = imported_packages(path) - {"__main__"}
    assert "local" not in imported and "local_stack" not in imported
    if len(relative.parts) == 1:  # __init__ and __main__ of the package itself
        assert imported <= {"runtime"}
        return
    own = relative.parts[0]
    stray = imported - ALLOWED[own] - {own}
    assert not stray, f"{relative} imports {sorted(stray)}; {own} may import {sorted(ALLOWED[own])}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_edge_touches_sdks_the_network_and_settings(path: Path) -> None:
    relative = path.relative_to(PACKAGE)
    if relative.parts[0] in EDGE:
        return
    where = [f"{relative}:{v}" for v in edge_violations(path)]
    assert not where, f"only {sorted(EDGE)} may do this:\n" + "\n".join(where)


def test_the_edge_check_sees_sdks_the_network_and_settings(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import email.utils\nimport requests_cache_like_name\nfrom http import HTTPStatus\n"
        "import requests\nfrom firebase_admin import auth\nfrom http import client\n"
        "from video_monitoring.config.settings import get_settings\n"
        "def f():\n    import google.cloud.firestore\n    return settings.get_settings()\n"
    )
    assert edge_violations(module) == [
        "4: imports requests (SDK or network: the edge only)",
        "5: imports firebase_admin (SDK or network: the edge only)",
        "6: imports http.client (SDK or network: the edge only)",
        "7: imports get_settings (settings: the edge only)",
        "9: imports google.cloud.firestore (SDK or network: the edge only)",
        "10: calls get_settings() (pass the values in)",
    ]


def test_the_check_sees_a_stray_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from video_monitoring.adapters.firestore_store import X\nimport os\n")
    assert imported_packages(module) == {"adapters"}


def test_the_local_stack_is_not_in_the_deployed_package() -> None:
    assert not (PACKAGE / "local").exists()
    for path in modules():
        assert "local_stack" not in imported_packages(path)


def top_level_imports(path: Path) -> set[str]:
    """The top-level modules a file imports (at any depth of its code)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
    return found


def test_the_stack_and_the_benchmarks_never_import_the_tests() -> None:
    """What bench/ and the local stack share with the tests lives in local_stack/ (the harness,
    the chaos workload, the lifecycle oracle): tests/ is not a library."""
    root = PACKAGE.parents[1]
    files = sorted([*(root / "bench").rglob("*.py"), *(root / "local_stack").rglob("*.py")])
    assert files
    offenders = [str(p.relative_to(root)) for p in files if "tests" in top_level_imports(p)]
    assert not offenders, f"these import tests; move what they need into local_stack/: {offenders}"


def test_the_check_sees_an_import_of_the_tests(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\ndef f():\n    from tests.integration.support import Stack\n")
    assert top_level_imports(module) == {"os", "tests"}
    module.write_text("import tests.chaos as chaos\nfrom . import tests\n")
    assert top_level_imports(module) == {"tests"}


def test_the_repository_explains_itself() -> None:
    """Docs and code cite docs/interfaces.md, never a document outside the repository."""
    root = PACKAGE.parents[1]
    outside = ("CON" + "TRACT", "../" + "shared")
    files = [root / name for name in ("README.md", "Makefile", "firebase.json", "firestore.rules",
                                      "openapi.yaml")]  # fmt: skip
    for folder in ("functions", "local_stack", "tests", "bench", "docs"):
        files += [
            p for p in (root / folder).rglob("*")
            if p.suffix in (".py", ".md") and "venv" not in p.relative_to(root).parts
        ]  # fmt: skip
    for path in files:
        text = path.read_text()
        for word in outside:
            assert word not in text, f"{path.relative_to(root)} cites {word}"
    assert (root / "docs" / "interfaces.md").exists()


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_500_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES
