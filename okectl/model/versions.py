"""Ordering OKE and OOAPI versions: one rule for every comparison okectl makes."""

from __future__ import annotations

import re

_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)(?:[-.]?([A-Za-z][0-9A-Za-z.-]*))?$")

VersionKey = tuple[tuple[int, ...], int, str]


def version_key(version: str) -> VersionKey:
    """A sort key: ``1.0`` equals ``1.0.0``; a pre-release (``1.1-rc``, ``1.1-concept``)
    sorts after ``1.0.1`` and before ``1.1``; text that is not a version sorts first."""
    m = _VERSION.match(version.strip())
    if m is None:
        return ((), -1, version)
    numbers = [int(p) for p in m.group(1).split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    suffix = m.group(2)
    return (tuple(numbers), 0 if suffix else 1, suffix.lower() if suffix else "")


def major_minor(version: str) -> tuple[int, int]:
    """(major, minor) of a version, ``(0, 0)`` for text that is not one."""
    numbers = version_key(version)[0]
    padded = (*numbers, 0, 0)
    return padded[0], padded[1]
