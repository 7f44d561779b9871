"""`okectl releases` against the example repository's embedded sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_cli


def test_releases_reads_every_feed_of_the_example_repository(example_repo: Path) -> None:
    result = run_cli("releases", "--repo", str(example_repo), "--output", "json")

    assert result.exit_code == 0, result.err
    doc = json.loads(result.out)
    by_id = {s["supplier"]: s for s in doc["suppliers"]}
    assert set(by_id) == {p.stem for p in (example_repo / "suppliers").glob("*.yaml")}
    assert all(s["error"] is None and s["releases"] for s in by_id.values())
    # A concept version in a feed is never the target: policy allows final versions only.
    assert all(s["target"] in doc["policy_allows"] for s in by_id.values() if s["target"])
