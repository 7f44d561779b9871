"""`okectl releases`: environments behind the newest version supplier and policy allow."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import ClassVar

import pytest

from okectl.config.models import Supplier
from okectl.model.releases import Release
from okectl.providers import registry
from okectl.providers.base import Adapter, Capability, ProviderError
from tests.support.cli import run_cli
from tests.support.git import GitRepo

MakeRepo = Callable[..., GitRepo]

FEEDS: dict[str, list[Release]] = {
    "delta": [
        Release("7.2", ("1.0",), date(2024, 10, 1), date(2025, 1, 1), None),  # past its support
        Release("8.0", ("1.0", "1.0.1"), date(2026, 6, 1), None, "https://delta.example/8.0"),
        Release("9.0-beta", ("1.1",), None, None, None),  # a concept: policy does not allow it
    ],
    "planwijs": [Release("2025.1", ("1.0",), None, None, None)],
}


class FakeProvider:
    closed: ClassVar[list[str]] = []

    def __init__(self, supplier: Supplier) -> None:
        self.supplier = supplier

    async def releases(self) -> list[Release]:
        if self.supplier.id == "planwijs" and "broken" in FEEDS:
            raise ProviderError("planwijs: GET /releases answered 503; contact support@planwijs.example")
        return FEEDS[self.supplier.id]

    async def aclose(self) -> None:
        FakeProvider.closed.append(self.supplier.id)


@pytest.fixture(autouse=True)
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # The example's suppliers name the sandbox adapter: it is replaced by one whose feeds
    # the tests control.
    fake = Adapter(
        name="sandbox",
        create=lambda supplier, ctx: FakeProvider(supplier),
        capabilities=frozenset({Capability.RELEASES}),
    )
    monkeypatch.setitem(registry.BUILT_IN, "sandbox", fake)
    FakeProvider.closed = []


def test_environments_behind_the_newest_supported_and_allowed_version_are_listed(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo()

    result = run_cli("releases", "--repo", str(repo.root))

    assert result.exit_code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("Policy allows OKE 1.0, 1.0.1 (final, within support on ")
    assert lines[1:] == [
        "delta: target OKE 1.0.1 (feed: 1.0, 1.0.1, 1.1); 3 of 3 environment(s) behind",
        "  11AA: acceptance 1.0, production 1.0 → 1.0.1",
        "  22BB: production 1.0 → 1.0.1",
        "planwijs: target OKE 1.0 (feed: 1.0); 0 of 3 environment(s) behind",
    ]
    assert sorted(FakeProvider.closed) == ["delta", "planwijs"]


def test_json_lists_every_environment_with_its_status(make_repo: MakeRepo) -> None:
    repo = make_repo()

    result = run_cli("releases", "--repo", str(repo.root), "--output", "json")

    doc = json.loads(result.out)
    delta = doc["suppliers"][0]
    assert delta["target"] == "1.0.1"
    assert delta["environments"][0] == {
        "school": "11AA", "environment": "acceptance", "type": "acceptance",
        "oke_version": "1.0", "status": "behind",
    }
    assert [r["product_version"] for r in delta["releases"]] == ["7.2", "8.0", "9.0-beta"]


def test_a_pilot_ahead_of_the_target_is_not_behind(make_repo: MakeRepo) -> None:
    repo = make_repo()
    school = repo.read("schools/22BB.yaml") + "    environments:\n      production: {oke_version: \"1.1\"}\n"
    repo.write({"schools/22BB.yaml": school})

    result = run_cli("releases", "--repo", str(repo.root), "--output", "json")

    rows = json.loads(result.out)["suppliers"][0]["environments"]
    assert [r["status"] for r in rows if r["school"] == "22BB"] == ["ahead"]


def test_a_failing_feed_is_one_line_for_that_supplier_and_exit_1(make_repo: MakeRepo) -> None:
    repo = make_repo()
    FEEDS["broken"] = []
    try:
        result = run_cli("releases", "--repo", str(repo.root))
    finally:
        del FEEDS["broken"]

    assert result.exit_code == 1
    assert result.err == (
        "planwijs: cannot read the release feed: "
        "planwijs: GET /releases answered 503; contact support@planwijs.example\n"
    )
    assert "delta: target OKE 1.0.1" in result.out
    assert sorted(FakeProvider.closed) == ["delta", "planwijs"]
