"""Conformance faults of one sandbox environment, set at run time through
``/_sandbox/oke/faults``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass
class OkeFaults:
    """Conformance faults of one environment (all off by default)."""

    missing_field: bool = False  # items lack a field the profile requires
    wrong_consumer_key: bool = False  # consumer extensions under another consumerKey
    claim_version: str | None = None  # GET / names this OKE version instead of the served one
    reject_cancelled: bool = False  # 400 for a result on a cancelled association
    no_auth: bool = False  # operations answer without a token

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OkeFaults:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown OKE fault(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        out = cls()
        for name, value in data.items():
            if name == "claim_version":
                if value is not None and not isinstance(value, str):
                    raise ValueError("claim_version must be a version string or null")
            elif not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false")
            setattr(out, name, value)
        return out
