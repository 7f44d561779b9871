"""The hostile plan corpus (``plans/``): every file is refused by `okectl apply FILE` with
one clear line and exit 1, and nothing at the supplier changes."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from okectl.config.repository import load_state
from okectl.config.settings import load_settings
from okectl.plans.document import checksum
from okectl.providers.registry import make_provider
from tests.support.cli import run_cli
from tests.support.repos import EXAMPLE_PARTS, EXAMPLE_TODAY, PROJECT
from tests.support.serving import serve_in_background

pytestmark = pytest.mark.timeout(120)

CORPUS = Path(__file__).parent / "plans"
FILES = sorted(p.name for p in CORPUS.iterdir() if p.suffix == ".json")


@dataclass
class World:
    repo: Path
    plan: dict[str, Any]  # a real plan of the example repository, as saved


def snapshot(repo: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """Every resource at every supplier of the repository: its ETag and labels."""
    state = load_state(repo)

    async def read() -> dict[str, tuple[str, dict[str, str]]]:
        out: dict[str, tuple[str, dict[str, str]]] = {}
        for supplier in state.suppliers.values():
            provider = make_provider(supplier, repo_root=repo, settings=load_settings(repo))
            try:
                for a in await provider.read_tenants(await provider.list_tenants()):
                    out[str(a.address)] = (a.etag, dict(a.labels))
            finally:
                await provider.aclose()
        return out

    return asyncio.run(read())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One sandbox and one saved plan for the whole corpus: no case may write anything,
    and each case checks that it did not."""
    tmp = tmp_path_factory.mktemp("hostile")
    repo = tmp / "example"
    repo.mkdir()
    for part in EXAMPLE_PARTS:
        if (PROJECT / part).is_dir():
            shutil.copytree(PROJECT / part, repo / part)
    shutil.copy(PROJECT / "okectl.yaml", repo / "okectl.yaml")
    with (
        pytest.MonkeyPatch.context() as mp,
        serve_in_background(tmp / "sandbox.db", seed=repo / "sandbox" / "seed.yaml") as url,
    ):
        mp.setenv("OKECTL_SANDBOX_URL", url)
        mp.setenv("OKECTL_TODAY", EXAMPLE_TODAY)
        saved = tmp / "plan.json"
        made = run_cli("plan", "--repo", str(repo), "--out", str(saved))
        assert made.exit_code == 0, made.err
        yield World(repo, json.loads(saved.read_text()))


def _first(changes: list[dict[str, Any]], match: dict[str, Any]) -> int:
    return next(i for i, c in enumerate(changes) if all(c.get(k) == v for k, v in match.items()))


def forge(world: World, recipe: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The forged plan document, and what the expected line refers to."""
    doc = json.loads(json.dumps(world.plan))
    changes: list[dict[str, Any]] = doc["changes"]
    facts: dict[str, Any] = {}
    if "select" in recipe:
        i = _first(changes, recipe["select"])
        changes[i].update(recipe.get("set", {}))
        if "after" in recipe:
            changes[i]["after"] = {**changes[i]["after"], **recipe["after"]}
            changes[i]["after_digest"] = checksum(changes[i]["after"])
        facts = {"address": changes[i]["address"], "index": i + 1}
    if "duplicate" in recipe:
        i = _first(changes, recipe["duplicate"])
        changes.append(dict(changes[i]))
        facts = {"address": changes[i]["address"], "index": len(changes)}
    if "add" in recipe:
        add = dict(recipe["add"])
        if add["address"] == "<hand-made>":
            add["address"] = next(
                u["address"] for u in doc["unmanaged"] if "not created by okectl" in u["reason"]
            )
        if add.get("etag") == "<actual>":
            add["etag"] = snapshot(world.repo)[add["address"]][0]
        after = add.pop("after", None)
        if add.pop("digest", False):
            add["after_digest"] = checksum(after)
        change = {"kind": "environment", "adopt": False, "before": None, "after": after, "diff": [], **add}
        changes.append(change)
        facts = {"address": add["address"], "index": len(changes)}
    doc.update(recipe.get("top", {}))
    if recipe.get("reseal", True):
        body = {k: v for k, v in doc.items() if k != "checksum"}
        doc["checksum"] = checksum(body)
    return doc, facts


@pytest.mark.parametrize("name", FILES)
def test_a_hostile_plan_file_is_refused_with_one_line_and_nothing_written(
    name: str, world: World, tmp_path: Path
) -> None:
    source = CORPUS / name
    target = tmp_path / name.replace(".edit", "")
    expected: str | None = None
    if name.endswith(".edit.json"):
        recipe = json.loads(source.read_text())
        doc, facts = forge(world, recipe)
        target.write_text(json.dumps(doc, indent=2))
        expected = recipe["expect"].format(file=target, **facts)
    else:
        shutil.copy(source, target)
    before = snapshot(world.repo)
    result = run_cli("apply", "--repo", str(world.repo), "--auto-approve", str(target))
    assert result.exit_code == 1, result.out
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"{target}"), lines[0]
    assert "internal error" not in lines[0] and "Traceback" not in result.err
    if expected is not None:
        assert lines[0] == expected
    else:
        assert "not a plan file" in lines[0]
    assert snapshot(world.repo) == before
    assert not (world.repo / ".okectl" / "apply.lock").exists(), "the apply lock is released"
    assert not (world.repo / ".okectl" / "runs").exists() or not any(
        (world.repo / ".okectl" / "runs").iterdir()
    )
