"""What a command's view gives the command line to print."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rendered:
    """Text for standard output (the result) and for standard error (notes and problems)."""

    out: str = ""
    err: str = ""


def lines(items: list[str]) -> str:
    """Lines of text, each ended."""
    return "".join(f"{item}\n" for item in items)
