"""The rules of ARCHITECTURE.md that import-linter cannot check, checked on the source: the
core never prints, asks, exits or handles a signal (the command line does), the command
line stays thin (no function of it longer than 50 lines), no package's `__init__.py` grows
into a module of its own; and the tests' rooms: tests sit in the folder of the package they
test, import what they share from `tests.support` (never from a conftest.py or another test
module), and a conftest.py holds fixtures and pytest hooks only."""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PACKAGE = PROJECT / "okectl"
TESTS = PROJECT / "tests"
# Calls that talk to the person running okectl, or end the process: the edge's alone.
EDGE_CALLS = {
    "print",
    "input",
    "exit",
    "quit",
    "sys.exit",
    "os._exit",
    "signal.signal",
    "click.echo",
    "click.secho",
    "click.prompt",
    "click.confirm",
}
EDGE_RAISES = {"SystemExit", "KeyboardInterrupt"}
CLI_FUNCTION_LINES = 50
# An __init__.py says what its package holds and may name what it exports; code that needs
# more lines than this has a module of its own.
INIT_LINES = 200
# Test folders that are not named after a package of okectl: what the tests share, the
# hostile corpora with the tests that run them, and the development tools' tests.
TEST_FOLDERS_BESIDE_THE_PACKAGES = {"support", "hostile", "tools"}


def _modules(*, cli: bool) -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if (p.relative_to(PACKAGE).parts[0] == "cli") == cli]


def _edge_acts(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name in EDGE_CALLS or name.endswith(("stdout.write", "stderr.write")):
                found.append((node.lineno, name))
        elif isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if ast.unparse(raised) in EDGE_RAISES:
                found.append((node.lineno, f"raise {ast.unparse(raised)}"))
    return found


def test_the_core_never_prints_asks_exits_or_handles_a_signal() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
        for path in _modules(cli=False)
        for line, what in _edge_acts(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == []


def test_the_rule_catches_what_it_is_about() -> None:
    sample = "import sys\ndef f():\n    print('x')\n    sys.stderr.write('y')\n    raise SystemExit(1)\n"
    assert [what for _, what in sorted(_edge_acts(ast.parse(sample)))] == [
        "print",
        "sys.stderr.write",
        "raise SystemExit",
    ]


def test_no_function_of_the_command_line_is_longer_than_50_lines() -> None:
    long = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.name}"
        for path in _modules(cli=True)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > CLI_FUNCTION_LINES
    ]
    assert long == []


def test_no_init_module_of_okectl_is_longer_than_200_lines() -> None:
    long = [
        f"{path.relative_to(PROJECT)}: {lines} lines"
        for path in sorted(PACKAGE.rglob("__init__.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > INIT_LINES
    ]
    assert long == []


def _shared_imports(path: Path, tree: ast.AST) -> list[tuple[int, str]]:
    """Imports of a conftest module or of a test module: what tests share lives in
    tests.support."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = [f"{'.' * node.level}{node.module or ''}"]
            if node.module is None:
                names = [f"{'.' * node.level}{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            last = name.rsplit(".", 1)[-1]
            if last == "conftest" or last.startswith("test_"):
                found.append((node.lineno, name))
    return found


def _python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((PROJECT / folder).rglob("*.py"))]


def test_tests_import_what_they_share_from_tests_support_not_from_a_conftest_or_a_test() -> None:
    found = [
        f"{path.relative_to(PROJECT)}:{line}: imports {name}"
        for path in _python_files("tests", "benchmarks", "tools")
        for line, name in _shared_imports(path, ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == []


def test_the_shared_import_rule_catches_what_it_is_about() -> None:
    # Spelled in pieces, so a search of the tests for such imports finds none here.
    conf = "conftest"
    sample = (
        f"from tests.{conf} import run_cli\nfrom .{conf} import GitRepo\nfrom . import {conf}\n"
        f"import tests.gitops.{conf}\nfrom tests.engine.test_end_to_end import faults\n"
        "from tests.support.cli import run_cli\n"
    )
    assert [name for _, name in _shared_imports(Path("x.py"), ast.parse(sample))] == [
        "tests.conftest",
        ".conftest",
        ".conftest",
        "tests.gitops.conftest",
        "tests.engine.test_end_to_end",
    ]


def _is_fixture_or_hook(node: ast.stmt) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        if node.name.startswith("pytest_"):
            return True
        decorators = [d.func if isinstance(d, ast.Call) else d for d in node.decorator_list]
        return any(ast.unparse(d) == "pytest.fixture" for d in decorators)
    return isinstance(node, ast.Import | ast.ImportFrom) or (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)  # the docstring
    )


def test_a_conftest_holds_fixtures_and_pytest_hooks_only() -> None:
    found = [
        f"{path.relative_to(PROJECT)}:{node.lineno}: {ast.unparse(node).splitlines()[0]}"
        for path in sorted(TESTS.rglob("conftest.py"))
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if not _is_fixture_or_hook(node)
    ]
    assert found == []


def test_each_test_folder_is_named_after_the_package_it_tests() -> None:
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders - packages - TEST_FOLDERS_BESIDE_THE_PACKAGES == set()


def test_the_support_package_defines_no_fixture() -> None:
    # Fixtures are found by pytest in conftest.py files only; one defined here would not be.
    found = [
        f"{path.relative_to(PROJECT)}:{node.lineno}: {node.name}"
        for path in sorted((TESTS / "support").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_fixture_or_hook(node)
    ]
    assert found == []
