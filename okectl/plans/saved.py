"""Checking a saved plan against what this repository plans now: pure functions.

Nothing in the file is taken on trust. First its claims (``check_claims``): the
repository it was made for, one change per resource, no unconditional write, only
configured suppliers, and changes inside the scope it says it covers. Then, against a
fresh plan of the resources it touches (``check_against``): each change must be one that
planning now produces (same address, action, ETag and target values) for a resource this
repository owns, or one it is about to adopt; anything else refuses the whole plan as
"not what this repository plans" (a change made before the configuration changed
included: the file cannot tell it from an edited one). A change whose resource moved on
at the supplier, or whose secret value changed, since the plan was made is stale: the
whole plan is refused, each stale change named, unless partial application is allowed,
which refuses only those. A plan every change of which is done already is said to be
applied (a change an open change request already asks a supplier's support desk for
counts as done: it was requested). Every write that follows is conditional on the ETag
checked here, so what was checked is what is written over.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from okectl.errors import OkectlError
from okectl.model.resources import LABEL_REPOSITORY, ActualResource, Address, Resource
from okectl.model.scope import Scope
from okectl.plans.changes import Change
from okectl.plans.document import PlanFileError, SavedChange, SavedPlan, change_document, checksum
from okectl.plans.run import PlanRun

NOT_PLANNED = "not what this repository plans"
# A saved change whose target no longer matches the configuration was either edited in
# the file or planned before the configuration changed: the file cannot tell which.
_CHANGED_SINCE = "; if the configuration changed since the plan was made, run okectl plan again"
SECRET_MOVED = "the value behind its secret reference changed since the plan was made; run okectl plan again"


class PlanRefused(OkectlError):
    """A saved plan that is not applied at all: one line per reason, each naming the change."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(problems[0] if problems else "the plan is refused")

    def lines(self) -> list[str]:
        return self.problems


@dataclass
class VerifiedPlan:
    """A saved plan checked against a fresh plan."""

    # The changes to apply: those planning now produces, matched with the file's (and,
    # with partial application allowed, the stale ones, to be reported as refused).
    changes: list[Change]
    # Changes not to attempt, and why (only with partial application: the stale ones).
    refused: dict[Address, str] = field(default_factory=dict)
    # Every change of the plan is done already: nothing to apply.
    already_applied: bool = False


def _line(saved: SavedPlan, ch: Change, problem: str) -> str:
    return f"{saved.where}: {ch.address} ({ch.action}): {problem}"


def touched(saved: SavedPlan) -> Scope:
    """The schools and suppliers the plan's changes touch (never the file's own claim)."""
    return Scope(
        schools={c.change.address.school for c in saved.changes},
        suppliers={c.change.address.supplier for c in saved.changes},
    )


def check_claims(saved: SavedPlan, *, repository: str, suppliers: Collection[str]) -> None:
    """What the file claims, checked before anything is read from a supplier."""
    if saved.repository != repository:
        raise PlanFileError(
            f"{saved.where}: the plan was made for repository {saved.repository!r}, "
            f"not this one ({repository!r}); nothing was applied"
        )
    _check_scope(saved)
    forged: list[str] = []
    seen: set[Address] = set()
    for ch in (c.change for c in saved.changes):
        if ch.address in seen:
            forged.append(_line(saved, ch, f"{NOT_PLANNED} (a second change of the same resource)"))
        seen.add(ch.address)
        if ch.etag is not None and ch.etag.strip() in ("*", ""):
            forged.append(_line(saved, ch, f"{NOT_PLANNED} (okectl never writes with If-Match: *)"))
        if ch.address.supplier not in suppliers:
            forged.append(
                _line(saved, ch, f"{NOT_PLANNED} (supplier {ch.address.supplier!r} is not configured)")
            )
    if forged:
        raise PlanRefused(forged)


def _check_scope(saved: SavedPlan) -> None:
    """A plan's changes lie inside the scope it says it covers: a plan that claims less
    than it changes (to pass a review of some schools only) is not a plan okectl made."""
    claim = Scope(
        schools=set(saved.schools) if saved.schools is not None else None,
        suppliers=set(saved.suppliers) if saved.suppliers is not None else None,
    )
    for i, c in enumerate(saved.changes, start=1):
        a = c.change.address
        if (claim.suppliers is not None and a.supplier not in claim.suppliers) or (
            claim.schools is not None and a.school not in claim.schools
        ):
            raise PlanFileError(
                f"{saved.where}: change {i} ({a}) is outside the scope the plan claims "
                f"({(claim.describe() or '').removeprefix('scoped to ')}); nothing was applied"
            )


def writes_a_secret(ch: Change, desired: Mapping[Address, Resource]) -> bool:
    """A client create or update whose configuration has a secret reference."""
    res = desired.get(ch.address)
    return (
        ch.address.kind == "client"
        and ch.action != "delete"
        and res is not None
        and isinstance(res.spec.get("secret"), str)
    )


def _undigested(saved: SavedPlan, desired: Mapping[Address, Resource]) -> list[str]:
    # A client write sends the value behind its secret reference; a file without the digest
    # of that value (dropped from it, or never there) cannot show the value is the planned one.
    return [
        _line(
            saved,
            c.change,
            "records no digest of the secret it writes; make the plan again with okectl plan --out",
        )
        for c in saved.changes
        if writes_a_secret(c.change, desired) and (saved.secret_salt is None or not c.has_secret_digest)
    ]


def _same_change(now: Change, saved: SavedChange) -> bool:
    """Whether the saved change is the one planning now produces: same action, ETag,
    adoption and target values (as saved, secret references redacted, and by digest)."""
    ch = saved.change
    if (now.action, now.etag, now.adopt) != (ch.action, ch.etag, ch.adopt):
        return False
    target = change_document(now)
    return bool(saved.after == target["after"] and saved.after_digest == target["after_digest"])


def _article(action: str) -> str:
    return "an" if action == "update" else "a"


def _what(now: Change, saved: Change) -> str:
    """How the change planning now produces differs from the saved one, in words."""
    article = _article(now.action)
    if now.action != saved.action:
        return f"{article} {now.action}"
    if now.adopt != saved.adopt:
        return f"{article} {now.action} that {'adopts' if now.adopt else 'does not adopt'} it"
    return f"{article} {now.action} with other values"


def _done(ch: Change, now: Change | None, act: ActualResource | None, repository: str) -> bool:
    """The change is carried out already: planning now gives nothing to do for it, and
    the resource is as the change leaves it (gone, or there and this repository's)."""
    if now is not None:
        return False
    if ch.action == "delete":
        return act is None
    return act is not None and act.owned_by(repository)


def _forged(
    saved: SavedChange,
    now: Change | None,
    act: ActualResource | None,
    wanted: Resource | None,
    repository: str,
) -> str | None:
    """Why the change is not one this repository would make at all, if it is not."""
    ch = saved.change
    if ch.action != "create" and act is not None and not act.owned_by(repository):
        adopting = ch.action == "update" and now is not None and now.action == "update" and now.adopt
        if not adopting:
            owner = act.labels.get(LABEL_REPOSITORY) or "nobody: made by hand"
            return f"{NOT_PLANNED} (this repository does not own it; owner: {owner})"
    if ch.action == "delete" and wanted is not None:
        return f"{NOT_PLANNED} (the configuration keeps it{_CHANGED_SINCE})"
    if ch.action != "delete" and (wanted is None or saved.after_digest != checksum(wanted.spec)):
        problem = "it is not in the configuration" if wanted is None else "other target values"
        return f"{NOT_PLANNED} ({problem}{_CHANGED_SINCE})"
    return None


def _stale(ch: Change, act: ActualResource | None) -> str | None:
    """Why the change's resource moved on at the supplier since the plan, if it did."""
    if ch.action == "create" and act is not None:
        return "it exists at the supplier now; run okectl plan again"
    if ch.action != "create" and act is None:
        return "it no longer exists at the supplier; run okectl plan again"
    if ch.action != "create" and act is not None and act.etag != ch.etag:
        return (
            f"changed at the supplier since the plan was made (ETag {act.etag}, planned {ch.etag}); "
            "run okectl plan again"
        )
    return None


def check_against(
    saved: SavedPlan,
    fresh: PlanRun,
    desired: Mapping[Address, Resource],
    *,
    secrets_now: Mapping[Address, str | None],
    allow_partial: bool = False,
) -> VerifiedPlan:
    """The saved plan checked against ``fresh`` (a plan of the resources it touches, made
    now) and the ``desired`` resources. ``secrets_now``: the digest, with the file's salt,
    of the secret value each of its client writes would send now."""
    undigested = _undigested(saved, desired)
    if undigested:
        raise PlanRefused(undigested)
    repository = fresh.repository
    fresh_changes = {c.address: c for c in fresh.plan.changes}
    # Requested already (an open change request asks for it): done as far as apply goes.
    requested = {a.change.address: a.change.action for a in fresh.plan.awaiting}
    forged: list[str] = []
    stale: dict[Address, str] = {}
    verified: dict[Address, Change] = {}
    done = 0
    for c in saved.changes:
        ch = c.change
        addr = ch.address
        act = fresh.actual.get(addr)
        now = fresh_changes.get(addr)
        why = _forged(c, now, act, desired.get(addr), repository)
        if why is not None:
            forged.append(_line(saved, ch, why))
            continue
        if requested.get(addr) == ch.action:
            done += 1
            continue
        if _done(ch, now, act, repository):
            done += 1
        moved = _stale(ch, act)
        if moved is None and saved.secret_salt is not None and secrets_now.get(addr) != c.secret_digest:
            moved = SECRET_MOVED if writes_a_secret(ch, desired) else None
        if moved is not None:
            stale[addr] = moved
        elif now is None or not _same_change(now, c):
            gives = "no change to it" if now is None else _what(now, ch)
            forged.append(_line(saved, ch, f"{NOT_PLANNED} (planning now gives {gives}; see okectl plan)"))
        else:
            verified[addr] = now
    if forged:
        raise PlanRefused(forged)
    if saved.changes and done == len(saved.changes):
        return VerifiedPlan(changes=[], already_applied=True)
    if stale and not allow_partial:
        raise PlanRefused(
            [
                _line(saved, c.change, f"stale: {stale[c.change.address]}")
                for c in saved.changes
                if c.change.address in stale
            ]
            + [
                f"{saved.where}: {len(stale)} of its {len(saved.changes)} changes are stale; "
                "nothing was applied (run okectl plan again, or apply with --allow-partial to apply the rest)"
            ]
        )
    # Stale changes (let through by allow_partial) are not attempted: they stay in the
    # run's account as refused.
    return VerifiedPlan(
        changes=[
            verified.get(c.change.address, c.change)
            for c in saved.changes
            if c.change.address in verified or c.change.address in stale
        ],
        refused=stale,
    )


# --- apply --reviewed: the fresh plan against the plan a review approved ------------------------


@dataclass
class Reviewed:
    """A fresh plan checked against the reviewed one: every change it makes was reviewed."""

    # The changes to apply: the fresh plan's, each the same as one reviewed.
    changes: list[Change]
    # What the review approved that planning now no longer gives (done already, or the
    # configuration asks for it no more): fewer is fine, and said.
    not_needed: list[Address] = field(default_factory=list)


def claimed_scope(saved: SavedPlan) -> Scope:
    """The schools and suppliers the plan says it covers (checked against its changes by
    ``check_claims``): what a fresh plan to compare with must cover too."""
    return Scope(
        schools=set(saved.schools) if saved.schools is not None else None,
        suppliers=set(saved.suppliers) if saved.suppliers is not None else None,
    )


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields_differ(reviewed: Any, now: Any) -> str:
    """Which target fields differ, with both values (secret references are redacted in both)."""
    old = reviewed if isinstance(reviewed, dict) else {}
    new = now if isinstance(now, dict) else {}
    differ = [k for k in sorted(set(old) | set(new), key=str) if old.get(k) != new.get(k)]
    if not differ:
        # Equal as shown: what differs is a secret reference, seen only through its digest.
        return "a secret reference other than reviewed"
    return "; ".join(f"{k}: reviewed {_shown(old.get(k))}, now {_shown(new.get(k))}" for k in differ[:5]) + (
        f" and {len(differ) - 5} more field(s)" if len(differ) > 5 else ""
    )


def _unreviewed(
    now: Change, reviewed: SavedChange | None, secret_now: str | None, salt: str | None, secret: bool
) -> str | None:
    """How the change planning now makes differs from the reviewed one, if it does."""
    if reviewed is None:
        return f"not in the reviewed plan: planning now gives {_article(now.action)} {now.action}"
    ch = reviewed.change
    if (now.action, now.adopt) != (ch.action, ch.adopt):
        return f"the reviewed plan has {_article(ch.action)} {ch.action}; planning now gives {_what(now, ch)}"
    target = change_document(now)
    if reviewed.after != target["after"] or reviewed.after_digest != target["after_digest"]:
        return f"other values than reviewed ({_fields_differ(reviewed.after, target['after'])})"
    if secret and (salt is None or not reviewed.has_secret_digest):
        return (
            "the reviewed plan records no digest of the secret it writes; "
            "review a plan made with okectl plan --out"
        )
    if secret and secret_now != reviewed.secret_digest:
        return "the value behind its secret reference is not the one reviewed"
    return None


def check_reviewed(
    saved: SavedPlan,
    fresh: PlanRun,
    desired: Mapping[Address, Resource],
    *,
    secrets_now: Mapping[Address, str | None],
) -> Reviewed:
    """``fresh`` (planned now, over the scope the reviewed plan covers) checked against the
    reviewed plan ``saved``: each change it makes must be one the review saw, with the same
    address, action and target values (secret values by digest, with the file's salt:
    ``secrets_now``). ETags are not compared: the writes are conditional on what was read
    now. A change the review did not see refuses the whole apply, each one named with how
    it differs; a reviewed change planning now no longer gives is only said."""
    reviewed = {c.change.address: c for c in saved.changes}
    problems = [
        _line(saved, now, why)
        for now in fresh.plan.changes
        if (
            why := _unreviewed(
                now,
                reviewed.get(now.address),
                secrets_now.get(now.address),
                saved.secret_salt,
                writes_a_secret(now, desired),
            )
        )
        is not None
    ]
    if problems:
        raise PlanRefused(
            [
                *problems,
                f"{saved.where}: planning now makes {len(problems)} change(s) the reviewed plan does not; "
                "nothing was applied (review the plan as it is now: okectl plan)",
            ]
        )
    planned = {c.address for c in fresh.plan.changes}
    return Reviewed(
        changes=list(fresh.plan.changes),
        not_needed=[c.change.address for c in saved.changes if c.change.address not in planned],
    )
