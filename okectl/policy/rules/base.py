"""The contract between the engine and a rule kind.

A rule kind is a class with a parameter model and any of the hooks below; the engine
walks the fleet once and calls each hook a kind defines, for the parts its rule selects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, ClassVar

from okectl.config.models import Model, OkeVersion, Supplier
from okectl.config.policies import Rule, Selector, is_pattern, matches
from okectl.config.repository import DesiredState
from okectl.model.releases import Release
from okectl.policy.facts import ClientView, ConnView, EnvView, Loc, SchoolView

# Where a selector's patterns are matched; kept importable from here for the rule kinds.
__all__ = ["ChangedEnvironments", "Check", "Emitter", "NoParams", "is_pattern", "listing", "matches"]


class NoParams(Model):
    pass


# The environment addresses whose configuration changes, counted from a day (the caller
# knows how: a plan's changes, or git since then); None when it cannot tell.
ChangedEnvironments = Callable[[date], frozenset[str] | None]


class Emitter:
    """Where checks report findings; implemented by the engine."""

    state: DesiredState
    today: date
    releases: dict[str, list[Release]] | None
    changed: ChangedEnvironments | None = None

    def emit(
        self,
        rule: Rule,
        address: str,
        loc: Loc,
        message: str,
        *,
        school: str | None = None,
        supplier: str | None = None,
        environment_type: str | None = None,
    ) -> None:
        raise NotImplementedError


class Check:
    """One rule of one kind, ready to look at the fleet."""

    kind: ClassVar[str]
    summary: ClassVar[str]
    params_model: ClassVar[type[Model]] = NoParams
    # Environment types looked at when the rule's selector names none (e.g. only
    # production for the privacy rule), so the common case needs no selector.
    default_environment_types: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, rule: Rule, params: Any, out: Emitter) -> None:
        self.rule = rule
        self.params = params
        self.out = out
        self.select: Selector = rule.select
        self.env_types: frozenset[str] | None = (
            frozenset(rule.select.environment_types)
            if rule.select.environment_types is not None
            else (frozenset(self.default_environment_types) if self.default_environment_types else None)
        )
        self._selects_all = (
            self.env_types is None and rule.select.schools is None and rule.select.suppliers is None
        )
        self._school_cache: dict[str, bool] = {}
        self._supplier_cache: dict[str, bool] = {}

    # --- selection ---------------------------------------------------------------

    def selects_school(self, code: str) -> bool:
        hit = self._school_cache.get(code)
        if hit is None:
            hit = self._school_cache[code] = matches(self.select.schools, code)
        return hit

    def selects_supplier(self, sid: str) -> bool:
        hit = self._supplier_cache.get(sid)
        if hit is None:
            hit = self._supplier_cache[sid] = matches(self.select.suppliers, sid)
        return hit

    def selects_env(self, env: EnvView) -> bool:
        if self._selects_all:
            return True
        return (
            (self.env_types is None or env.type in self.env_types)
            and self.selects_school(env.code)
            and self.selects_supplier(env.supplier.id)
        )

    # --- reporting ---------------------------------------------------------------

    def env_finding(self, env: EnvView, loc: Loc, message: str, *, address: str | None = None) -> None:
        self.out.emit(
            self.rule,
            address or env.address,
            loc,
            message,
            school=env.code,
            supplier=env.supplier.id,
            environment_type=env.type,
        )

    def catalogue_version(self, version: str) -> OkeVersion | None:
        versions = self.out.state.versions
        return versions.oke_versions.get(version) if versions is not None else None

    # --- hooks (a kind overrides the ones it needs) ----------------------------

    def environment(self, env: EnvView) -> None:
        """Called for every selected environment."""

    def client(self, client: ClientView) -> None:
        """Called for every client registration of a selected environment."""

    def connection(self, conn: ConnView) -> None:
        """Called for every connection of a selected school to a selected supplier."""

    def school(self, school: SchoolView) -> None:
        """Called for every selected school, after its connections."""

    def supplier(self, supplier: Supplier) -> None:
        """Called for every selected supplier, after every school."""

    def finish(self) -> None:
        """Called once at the end."""

    @classmethod
    def check_params(cls, state: DesiredState, params: Any) -> list[tuple[tuple[Any, ...], str]]:
        """Problems with parameters beyond their type: (path inside params, message)."""
        return []



def listing(items: Sequence[Any]) -> str:
    return ", ".join(str(i) for i in items) if items else "none"
