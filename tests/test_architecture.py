"""The rules of ARCHITECTURE.md that import-linter cannot check, checked on the source: the
core never prints, asks, exits or handles a signal (the command line does), and the
command line stays thin (no function of it longer than 50 lines)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "okectl"
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
