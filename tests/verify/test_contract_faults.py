"""Each class of the contract verify holds an endpoint to, broken on purpose in a real
sandbox server, and reported as a failure (exit 4) naming the check, the request and what
the profile (or okectl, or the OKE texts) requires."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from okectl.verify.runner import Selection
from okectl.views.verify import failures
from tests.support.cli import CliResult
from tests.support.repos import write_tree
from tests.support.verify import FILES, Served, verify

Cli = Callable[..., CliResult]
TA = "toets/10AA/production"  # OKE 1.0.1
SIS = "leerling/10AA/production"  # OKE 1.0.1, flows 1, 5, 6: listings with paging and filters


def lines_for(root: Path, address: str, level: int = 3) -> list[str]:
    supplier, _, environment = address.split("/")
    report = verify(root, Selection(suppliers=frozenset({supplier}), environment=environment, level=level))
    return failures(report)


def test_error_answers_are_held_to_the_profiles_problem_schema(served: Served, cli: Cli) -> None:
    served.faults(TA, wrong_error_body=True)
    result = cli("verify", "--repo", str(served.root), "--supplier", "toets", "--environment", "production")
    assert result.exit_code == 4, result.out
    lines = lines_for(served.root, TA)
    base = f"{served.url}/ooapi/{TA}"
    requires = (
        "requires: a {status} answer is application/problem+json valid against the problem schema of "
        "OKE 1.0.1 (oke-1.0.1.yaml) (status a string, title required)"
    )
    no_token = sorted(line for line in lines if " L1 auth.no-token: " in line)
    assert len(no_token) == 2  # one operation per flow scope
    assert no_token[0] == (
        f"{TA}: L1 auth.no-token: GET /components: the 401 answer without a token: the body: 'title' is a "
        f"required property; status: 401 is not of type 'string'; request: GET {base}/components; "
        + requires.format(status=401)
    )
    assert any(
        " L1 auth.wrong-scope: " in line
        and "the 403 answer to a token of scope" in line
        and requires.format(status=403) in line
        for line in lines
    ), lines
    assert any(
        " L3 read.unknown-id: GET /components/{componentId}: the 404 answer for an unknown id: "
        "the body: 'title' is a required property; status: 404 is not of type 'string'; request: GET "
        f"{base}/components/"
        in line
        and line.endswith(requires.format(status=404))
        for line in lines
    ), lines


def test_a_400_at_level_4_is_held_to_the_problem_schema_too(served: Served) -> None:
    served.faults("toets/10AA/acceptance", wrong_error_body=True)
    lines = [line for line in lines_for(served.root, "toets/10AA/acceptance", level=4) if " L4 " in line]
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "toets/10AA/acceptance: L4 write.put-id-mismatch: PUT whose body id differs from the path: the 400 "
        "answer: the body: 'title' is a required property; status: 400 is not of type 'string'; request: PUT "
    )
    assert lines[0].endswith(
        "requires: a 400 answer is application/problem+json valid against the problem schema of OKE 1.1 "
        "(oke-1.1-concept.yaml) (status a string, title required)"
    )


def test_a_wrong_content_type(served: Served) -> None:
    served.faults(TA, wrong_content_type=True)
    lines = lines_for(served.root, TA)
    assert (
        f"{TA}: L3 read.get: content type text/plain; charset=utf-8, not application/json; request: GET "
        f"{served.url}/ooapi/{TA}/components?pageSize=10; requires: GET /components answers 200 valid "
        "against OKE 1.0.1 (oke-1.0.1.yaml)"
    ) in lines
    assert any(
        line.startswith(f"{TA}: L2 metadata.service: GET / is not valid: content type text/plain")
        for line in lines
    )


PAGING = (
    "requires: GET /groups pages by pageSize and pageNumber: at most pageSize items a page, "
    "hasNextPage true only when a next page holds items, no item on two pages"
)


@pytest.mark.parametrize(
    ("fault", "message", "request_tail"),
    [
        ("oversize", "page 1 holds 12 items, more than the pageSize=10 asked", "/groups?pageSize=10"),
        (
            "repeat",
            "page 2 items[0] (groupId 66d49a6b-522b-55e1-9553-fd290a31ef0b) was already on page 1",
            "/groups?pageSize=10&pageNumber=2",
        ),
        ("endless", "page 3 is empty, but page 2 said hasNextPage: true", "/groups?pageSize=10&pageNumber=3"),
    ],
)
def test_broken_paging(served: Served, fault: str, message: str, request_tail: str) -> None:
    served.faults(SIS, broken_paging=fault)
    lines = lines_for(served.root, SIS)
    assert (
        f"{SIS}: L3 read.paging: GET /groups: {message}; "
        f"request: GET {served.url}/ooapi/{SIS}{request_tail}; {PAGING}" in lines
    )
    assert all(" L3 read.paging: " in line for line in lines), lines


def test_paging_is_followed_on_a_conformant_endpoint(served: Served) -> None:
    report = verify(served.root, Selection(suppliers=frozenset({"leerling"}), environment="production"))
    paging = [c for e in report.environments for c in e.checks if c.check == "read.paging"]
    assert paging and all(c.status == "pass" for c in paging)
    assert any(c.message == "GET /groups: 2 page(s) of at most 10, 12 items, none twice" for c in paging)


def test_query_filters_the_profile_declares_are_exercised(served: Served) -> None:
    report = verify(served.root, Selection(suppliers=frozenset({"leerling"}), environment="production"))
    filters = {c.message for e in report.environments for c in e.checks if c.check == "read.filter"}
    assert (
        "GET /groups ?groupType=learning%20group: 10, ?groupType=class: 0 item(s), each matching" in filters
    )
    served.faults(SIS, ignore_filters=True)
    lines = lines_for(served.root, SIS)
    assert (
        f"{SIS}: L3 read.filter: GET /groups?groupType=class: items[0].groupType is 'learning group', not "
        f"'class'; request: GET {served.url}/ooapi/{SIS}/groups?pageSize=10&groupType=class; requires: GET "
        "/groups filters on groupType (a query parameter the profile declares)"
    ) in lines


# --- time and size -----------------------------------------------------------------------

DEADLINE = 0.5


@pytest.fixture
def short_deadline(served: Served, tmp_path: Path) -> Path:
    """The same sandbox, with the TA supplier's deadline per answer cut to half a second."""
    files = {
        **FILES,
        "suppliers/toets.yaml": FILES["suppliers/toets.yaml"].replace(
            "api: {", f"api: {{timeout_seconds: {DEADLINE}, "
        ),
    }
    return write_tree(tmp_path / "short", files)


LIMIT_LINE = re.compile(
    rf"^{TA}: L(?P<level>[0-3]) (?P<check>[a-z.-]+)\.limit: (?P<method>GET|POST) (?P<path>\S+): "
    r"(?P<what>.*); "
    rf"request: (?P=method) \S+; requires: every answer whole within {DEADLINE:g} s and at most 16 MiB, "
    r"compressed or decoded \[okectl's rule, not the profile's\]$"
)


@pytest.mark.parametrize("fault", [{"slow_ms": 3000}, {"slow_loris": True}])
def test_a_slow_endpoint_fails_within_its_deadline(
    served: Served, short_deadline: Path, fault: dict[str, object]
) -> None:
    """Late as a whole, or a byte every 50 ms (well within any per-read timeout): either way
    the answer's one deadline ends it, and it is a failure naming the limit and the wait."""
    served.faults(TA, **fault)
    started = time.monotonic()
    lines = lines_for(short_deadline, TA)
    took = time.monotonic() - started
    assert len(lines) == 1, lines
    match = LIMIT_LINE.match(lines[0])
    assert match, lines[0]
    what = match["what"]
    assert re.fullmatch(
        rf"no whole answer within the deadline of {DEADLINE:g} s per answer \(waited 0\.5\d s\)", what
    ), what
    # Token, then the chain of reads: a few deadlines at most, never the fault's 3 s or more.
    assert took < 2.5, took


@pytest.mark.parametrize(
    ("fault", "what"),
    [
        (
            {"gzip_bomb": True},
            r"the endpoint answered more than the 16 MiB okectl reads once decompressed "
            r"\([\d.]+ (KiB|MiB) received\)",
        ),
        (
            {"huge_body": True},
            r"the endpoint announced an answer of 1\.5 GiB, more than the 16 MiB okectl reads",
        ),
        ({"endless_body": True}, r"the endpoint sent more than the 16 MiB okectl reads of an answer"),
    ],
)
def test_an_unbounded_answer_is_one_failure(
    served: Served, cli: Cli, fault: dict[str, object], what: str
) -> None:
    served.faults(TA, **fault)
    result = cli("verify", "--repo", str(served.root), "--supplier", "toets", "--environment", "production")
    assert result.exit_code == 4
    assert "Traceback" not in result.err and "MemoryError" not in result.err + result.out
    lines = lines_for(served.root, TA)
    assert len(lines) == 1, lines
    text = lines[0].replace("within 10 s", f"within {DEADLINE:g} s")
    match = LIMIT_LINE.match(text)
    assert match, lines[0]
    assert re.fullmatch(what, match["what"]), match["what"]


def test_the_run_has_a_deadline_too(served: Served, cli: Cli) -> None:
    """A per-answer deadline of 10 s, an endpoint 3 s late on every answer: the run's own
    deadline (1 s) ends it, and the failure names that deadline."""
    served.faults(TA, slow_ms=3000)
    started = time.monotonic()
    result = cli(
        "verify", "--repo", str(served.root), "--supplier", "toets", "--environment", "production",
        "--deadline", "1",
    )  # fmt: skip
    took = time.monotonic() - started
    assert result.exit_code == 4, result.out
    assert re.search(r"no whole answer within the run's deadline of 1 s \(waited 0\.\d\d s\)", result.out), (
        result.out
    )
    assert took < 2.5, took
