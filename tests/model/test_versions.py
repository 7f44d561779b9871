"""One ordering of versions for every comparison okectl makes."""

from __future__ import annotations

import pytest

from okectl.model.versions import major_minor, version_key


def test_versions_sort_as_releases_do() -> None:
    given = ["1.1", "0.9.4", "1.0.1", "1.1-rc", "1.0", "0.9.3", "1.1-concept", "not-a-version", "1.10"]
    assert sorted(given, key=version_key) == [
        "not-a-version",
        "0.9.3",
        "0.9.4",
        "1.0",
        "1.0.1",
        "1.1-concept",
        "1.1-rc",
        "1.1",
        "1.10",
    ]


@pytest.mark.parametrize(("a", "b"), [("1.0", "1.0.0"), ("1", "1.0"), ("v5", "5.0.0")])
def test_trailing_zeros_do_not_make_a_different_version(a: str, b: str) -> None:
    assert version_key(a) == version_key(b)


def test_a_pre_release_comes_before_its_release_and_after_the_one_before() -> None:
    assert version_key("1.0.1") < version_key("1.1-rc") < version_key("1.1")


@pytest.mark.parametrize(
    ("version", "minor"), [("1.0.1", (1, 0)), ("1", (1, 0)), ("1.1-rc", (1, 1)), ("x", (0, 0))]
)
def test_major_minor(version: str, minor: tuple[int, int]) -> None:
    assert major_minor(version) == minor
