"""The sandbox's synthetic OKE data and the requests verify sends (``okectl/sandbox/oke/data``,
``okectl/verify/data``) are what ``tools/synth.py`` builds from the vendored profiles: a
profile that changed without the data being built again fails here."""

from __future__ import annotations

import pytest

from okectl.verify.profiles import PROFILE_FILES
from tools.synth import ROOT, files


@pytest.mark.parametrize("version", list(PROFILE_FILES))
def test_the_committed_data_is_what_the_profiles_build(version: str) -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in files(version).items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run python -m tools.synth"
