"""Production is an endpoint, not a name: an environment whose base URL is a production
environment's, however it is written, gets no level 4 write, refused before any request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from okectl.verify.endpoints import normalise_url
from okectl.verify.runner import Selection
from okectl.views.verify import failures
from tests.support.cli import CliResult
from tests.support.repos import write_tree
from tests.support.verify import FILES, Served, verify

Cli = Callable[..., CliResult]


@pytest.mark.parametrize(
    ("written", "same_as"),
    [
        ("HTTPS://TA.Example/ooapi/toets/", "https://ta.example/ooapi/toets"),
        ("https://ta.example:443/ooapi/toets", "https://ta.example/ooapi/toets"),
        ("http://ta.example:80/ooapi", "http://ta.example/ooapi"),
        ("https://ta.example/ooapi/%74oets", "https://ta.example/ooapi/toets"),
        ("https://ta.example/ooapi/a/../toets/./", "https://ta.example/ooapi/toets"),
        ("https://bücher.example/oke", "https://xn--bcher-kva.example/oke"),
        ("https://ta.example./ooapi/toets", "https://ta.example/ooapi/toets"),
        ("https://ta.example/ooapi/%2f", "https://ta.example/ooapi/%2F"),
    ],
)
def test_one_endpoint_however_it_is_written(written: str, same_as: str) -> None:
    assert normalise_url(written) == normalise_url(same_as)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://ta.example/ooapi/toets", "http://ta.example/ooapi/toets"),
        ("https://ta.example:8443/ooapi", "https://ta.example/ooapi"),
        ("https://ta.example/ooapi/toets", "https://ta.example/ooapi/toets-acc"),
        ("https://ta.example/ooapi/%2F", "https://ta.example/ooapi/"),
    ],
)
def test_different_endpoints_stay_different(one: str, other: str) -> None:
    assert normalise_url(one) != normalise_url(other)


def _with(
    acceptance_url: str, *, production_url: str | None = None, other_school: bool = False
) -> dict[str, str]:
    """The test repository with toets' acceptance (and maybe production) declared at these URLs,
    or a second school's acceptance at the URL."""
    school = FILES["schools/10AA.yaml"]
    if production_url is not None:
        school = school.replace(
            "            flows: [0, 2, 3, 4]\n            environments:\n",
            "            flows: [0, 2, 3, 4]\n            environments:\n"
            f'              production: {{base_url: "{production_url}"}}\n',
            1,
        )
    files = dict(FILES)
    if other_school:
        files["schools/20BB.yaml"] = (
            school.replace("code: 10AA", "code: 20BB")
            .replace("name: ROC Proef", "name: ROC Ander")
            .replace("schac_home: proef.example", "schac_home: ander.example")
            .replace(
                'acceptance: {oke_version: "1.1"}',
                f'acceptance: {{oke_version: "1.1", base_url: "{acceptance_url}"}}',
            )
        )
    else:
        school = school.replace(
            'acceptance: {oke_version: "1.1"}',
            f'acceptance: {{oke_version: "1.1", base_url: "{acceptance_url}"}}',
        )
    files["schools/10AA.yaml"] = school
    return files


def _refused(root: Path, school: str = "10AA") -> list[str]:
    report = verify(root, Selection(suppliers=frozenset({"toets"}), environment="acceptance", level=4))
    return [line for line in failures(report) if f"toets/{school}/acceptance" in line]


@pytest.mark.parametrize(
    "spelling",
    [
        "{url}/ooapi/toets/10AA/production",
        "{URL}/ooapi/toets/10AA/production/",
        "{url}/ooapi/%74oets/10AA/production",
        "{url}/ooapi/toets/./10AA/x/../production",
    ],
)
def test_an_acceptance_environment_at_productions_reported_url_gets_no_write(
    served: Served, tmp_path: Path, spelling: str
) -> None:
    """Production here is where the administration API says toets/10AA/production is."""
    url = spelling.format(url=served.url, URL=served.url.upper().replace("HTTP://", "HTTP://"))
    root = write_tree(tmp_path / "repo", _with(url))
    assert _refused(root) == [
        f"toets/10AA/acceptance: L4 write.refused: level 4 is refused on production: its base URL {url} is "
        "production's (toets/10AA/production)"
    ]
    # Refused before any request: neither endpoint saw anything.
    assert served.requests() == {}


@pytest.mark.parametrize(
    ("production", "acceptance"),
    [
        ("https://ta.example/ooapi/prod", "HTTPS://TA.EXAMPLE:443/ooapi/prod/"),
        ("https://bücher.example/oke", "https://xn--bcher-kva.example/oke"),
        ("https://ta.example/ooapi/prod", "https://ta.example/ooapi/%70rod/../prod"),
    ],
)
def test_declared_production_urls_are_production_in_every_spelling(
    served: Served, tmp_path: Path, production: str, acceptance: str
) -> None:
    root = write_tree(tmp_path / "repo", _with(acceptance, production_url=production))
    assert _refused(root) == [
        "toets/10AA/acceptance: L4 write.refused: level 4 is refused on production: its base URL "
        f"{acceptance} is production's (toets/10AA/production)"
    ]
    assert served.requests() == {}


def test_another_schools_production_counts_too(served: Served, tmp_path: Path) -> None:
    production = "https://ta.example/ooapi/prod"
    root = write_tree(
        tmp_path / "repo",
        _with("https://TA.example/ooapi/prod/", production_url=production, other_school=True),
    )
    report = verify(
        root,
        Selection(
            schools=frozenset({"20BB"}), suppliers=frozenset({"toets"}), environment="acceptance", level=4
        ),
    )
    assert failures(report) == [
        "toets/20BB/acceptance: L4 write.refused: level 4 is refused on production: its base URL "
        "https://TA.example/ooapi/prod/ is production's (toets/10AA/production)"
    ]
    assert served.requests() == {}


def test_reading_production_by_identity_is_still_allowed(served: Served, tmp_path: Path) -> None:
    url = f"{served.url}/ooapi/toets/10AA/production/"
    root = write_tree(tmp_path / "repo", _with(url))
    report = verify(root, Selection(suppliers=frozenset({"toets"}), environment="acceptance", level=3))
    # Levels 0-3 only read; the acceptance environment here is production's endpoint, at 1.0.1.
    assert [line for line in failures(report) if "write" in line] == []
