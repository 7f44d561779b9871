"""The repository's record of OKE verifications (``verification/<supplier>.json``).

``okectl verify --record`` writes it; the ``verified`` policy rule kind reads it. It is part
of the desired state's evidence, kept in git beside the configuration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from okectl.errors import OkectlError

RECORD_DIR = "verification"


def read_record(root: Path, supplier: str) -> dict[str, Any]:
    """The recorded verifications of a supplier: OKE version → summary (empty when none).
    A record that exists but cannot be read is an error, never an absence."""
    path = root / RECORD_DIR / f"{supplier}.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OkectlError(f"{path}: cannot read the verification record ({exc})") from None
    versions = data.get("oke_versions") if isinstance(data, dict) else None
    if not isinstance(versions, dict):
        raise OkectlError(f"{path}: not a verification record (no oke_versions)")
    return versions
