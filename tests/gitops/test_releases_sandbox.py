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
    assert all(s["error"] is None for s in by_id.values())
    # The suppliers with an API have a feed; the others, changed by their support desk,
    # have none, which is no error: what they support is what their file declares.
    fed = {sid for sid, s in by_id.items() if s["source"] == "feed"}
    assert fed == {"delta-toets", "eduplan"} and all(by_id[sid]["releases"] for sid in fed)
    assert by_id["oudtoets"]["supported"] == ["0.9.4", "1.0"] and by_id["oudtoets"]["releases"] == []
    # A concept version in a feed is never the target: policy allows final versions only.
    assert all(s["target"] in doc["policy_allows"] for s in by_id.values() if s["target"])
