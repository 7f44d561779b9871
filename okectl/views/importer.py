"""What ``okectl import`` found, as a unified diff of the YAML it writes."""

from __future__ import annotations

import difflib
import io
from typing import TYPE_CHECKING

from okectl.views.escape import terminal

if TYPE_CHECKING:
    # The type only: a view never runs the import.
    from okectl.engine.importer import ImportResult


def render_import(result: ImportResult) -> str:
    out = io.StringIO()
    if not result.files and not result.blocked:
        out.write("Nothing to import: the configuration already describes everything found.\n")
    for path, (old, new) in sorted(result.files.items()):
        out.writelines(_unified(path, old, new))
    for line in result.skipped:
        out.write(f"skipped: {terminal(line)}\n")
    for path, ((old, new), problems) in sorted(result.blocked.items()):
        out.write(
            f"blocked: {terminal(path)}: the import would not validate, so this file is left as it is:\n"
        )
        out.writelines(_unified(path, old, new))
        out.writelines(f"  {terminal(line)}\n" for line in problems)
        out.write("  Fix the cause (in the configuration or at the supplier), then import again.\n")
    blocked = f"; {len(result.blocked)} file(s) blocked (see above)" if result.blocked else ""
    if result.files:
        verb, ing = ("Wrote", "imported") if result.written else ("Would write", "importing")
        out.write(f"{verb} {len(result.files)} file(s), {ing} {len(result.imported)} resource(s){blocked}.")
        out.write("\n" if result.written else " Run again with --write to write them.\n")
    elif result.blocked:
        out.write(f"Nothing can be imported{blocked}.\n")
    return out.getvalue()


def _unified(path: str, old: str, new: str) -> list[str]:
    # Each line shown escaped: what a supplier holds ends up in the YAML shown here.
    return [
        terminal(line.rstrip("\n")) + "\n"
        for line in difflib.unified_diff(
            old.splitlines(),
            new.splitlines(),
            fromfile=f"a/{path}" if old else "/dev/null",
            tofile=f"b/{path}",
            lineterm="",
        )
    ]
