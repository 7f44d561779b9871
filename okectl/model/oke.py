"""OKE's endpoints per functional role, as the specification's tables give them (OKE 1.0.1,
"Endpoints per role"; ``GET /`` needs no scope).

Shared knowledge of the domain: the sandbox serves these operations and ``okectl verify``
checks them, so both read this one table. Paths are the profiles' templates, with the
member path as the specification text spells it (``/groups/{groupId}/members/{personId}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["sis", "tpl", "ta"]
Method = Literal["GET", "PUT", "PATCH"]
ROLES: tuple[Role, ...] = ("ta", "tpl", "sis")
CONSUMER_KEY = "nl-test-admin"

# Scope name → the flows it covers.
SCOPE_FLOWS: dict[str, frozenset[int]] = {
    "nl-test-admin-flow-0": frozenset({0}),
    "nl-test-admin-flow-1-5": frozenset({1, 5}),
    "nl-test-admin-flow-2-3-4": frozenset({2, 3, 4}),
    "nl-test-admin-flow-6": frozenset({6}),
}
FLOW6_SINCE = "1.0.1"
# Query parameters of a listing that do not filter on a field of its items.
NOT_FILTERS = frozenset(
    {"pageSize", "pageNumber", "consumer", "q", "search", "sort", "expand", "since", "until", "primaryCode"}
)
# The identifiers OKE's resources carry, each also the name of its path parameter.
IDENTIFIERS: tuple[str, ...] = (
    "componentId",
    "offeringId",
    "associationId",
    "personId",
    "groupId",
    "organizationId",
    "documentId",
)


@dataclass(frozen=True, slots=True)
class Operation:
    role: Role
    scope: str
    method: Method
    path: str

    @property
    def flows(self) -> frozenset[int]:
        return SCOPE_FLOWS[self.scope]


def _ops(role: Role, scope: str, spec: str) -> list[Operation]:
    out: list[Operation] = []
    for line in spec.strip().splitlines():
        methods, path = line.split()
        for method in methods.split("/"):
            assert method in ("GET", "PUT", "PATCH")
            out.append(Operation(role, "nl-test-admin-" + scope, method, path))  # type: ignore[arg-type]
    return out


OPERATIONS: tuple[Operation, ...] = (
    *_ops(
        "ta",
        "flow-0",
        """
        GET /components
        GET /components/{componentId}
        """,
    ),
    *_ops(
        "ta",
        "flow-2-3-4",
        """
        GET/PUT/PATCH /offerings/{offeringId}
        GET/PUT/PATCH /associations/{associationId}
        GET /associations/{associationId}/url
        GET /offerings/{offeringId}/associations
        GET /documents/{documentId}
        """,
    ),
    *_ops(
        "tpl",
        "flow-1-5",
        """
        PUT/PATCH /associations/{associationId}
        PUT/PATCH /offerings/{offeringId}
        PUT /persons/{personId}
        PUT /groups/{groupId}
        PUT /groups/{groupId}/members/{personId}
        GET /documents/{documentId}
        """,
    ),
    *_ops(
        "tpl",
        "flow-2-3-4",
        """
        PATCH /associations/{associationId}
        PATCH /offerings/{offeringId}
        """,
    ),
    *_ops(
        "sis",
        "flow-1-5",
        """
        GET/PUT/PATCH /associations/{associationId}
        GET /groups
        GET /groups/{groupId}
        GET /groups/{groupId}/members
        GET /offerings
        GET /offerings/{offeringId}
        GET /offerings/{offeringId}/associations
        GET /organizations/{organizationId}
        GET /persons/{personId}
        """,
    ),
    *_ops(
        "sis",
        "flow-6",
        """
        GET /persons/{personId}/associations
        """,
    ),
)


def has_flow6(oke_version: str) -> bool:
    """Flow 6 came with 1.0.1; the 1.1 concept branched off before it and lacks it."""
    return oke_version == FLOW6_SINCE


def operations(roles: frozenset[str], flows: frozenset[int], oke_version: str) -> list[Operation]:
    """The operations an environment provides: its roles' operations for its enabled flows
    (every flow when none are listed) at its OKE version."""
    out: list[Operation] = []
    for op in OPERATIONS:
        if op.role not in roles:
            continue
        if flows and not (op.flows & flows):
            continue
        if 6 in op.flows and not has_flow6(oke_version):
            continue
        out.append(op)
    return out


def scopes(ops: list[Operation]) -> list[str]:
    return sorted({op.scope for op in ops})


__all__ = ["CONSUMER_KEY", "OPERATIONS", "ROLES", "SCOPE_FLOWS", "Operation", "operations", "scopes"]
