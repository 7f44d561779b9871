"""What ``okectl import`` found, as a unified diff of the YAML it writes."""

from __future__ import annotations

import difflib
import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # The type only: a view never runs the import.
    from okectl.engine.importer import ImportResult


def render_import(result: ImportResult) -> str:
    out = io.StringIO()
    if not result.files:
        out.write("Nothing to import: the configuration already describes everything found.\n")
    for path, (old, new) in sorted(result.files.items()):
        out.writelines(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=f"a/{path}" if old else "/dev/null",
                tofile=f"b/{path}",
            )
        )
    for line in result.skipped:
        out.write(f"skipped: {line}\n")
    if result.files:
        verb = "Wrote" if result.written else "Would write"
        out.write(f"{verb} {len(result.files)} file(s), importing {len(result.imported)} resource(s).")
        out.write("\n" if result.written else " Run again with --write to write them.\n")
    return out.getvalue()
