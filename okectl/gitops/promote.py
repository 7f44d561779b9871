"""`okectl promote`: move an OKE version one stage forward for the schools of a wave, only
when the evidence says it works.

Stages are environment types: test → acceptance → production (pilot and chain-test
environments are no stage). Waves are the named groups of schools in
``policies/rollout.yaml``, in order. Before anything is edited, every gate is weighed
per school and shown with its evidence:

- **order**: every earlier wave runs the version in every environment of the target
  stage already, as the YAML of its schools says (so waves go in order);
- **verified**: each environment of the previous stage passed ``okectl verify`` at the
  rollout's level or higher for this supplier and version, recorded after the version was
  set there (git: the first-parent commit from which on it runs the version) and no longer
  ago than the rollout allows: a pass from before the change does not count;
- **soak**: the version has run on the previous stage for the rollout's days;
- **incidents**: no incident is open for the supplier at the target or previous stage;
- **freeze**: no freeze window holds the target environment today.

A gate that cannot pass yet says how it will: the day it passes (soak, freeze) or the
exact command to run (a verification to record, an earlier wave to promote), so no gate
waits on another it cannot see. The previous stage is the nearest earlier stage the
school's connection has; a school without one (production only) takes its evidence from
that stage of the same supplier in its own or an earlier wave: the supplier's product
runs the same version there, proven.

When every gate passes, the school files are edited in place as ``okectl bump`` does
(comments kept), optionally committed on a new branch whose message is the pull
request's body: the gates and their evidence. Nothing is edited when one gate fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from okectl.config.calendar import frozen
from okectl.config.revision import GitError, inside_git
from okectl.config.rollout import STAGES, Rollout, Stage, Wave
from okectl.config.verification import read_record
from okectl.engine.workspace import Workspace
from okectl.errors import OkectlError
from okectl.files import write_atomic
from okectl.gitops.bump import BumpResult, bump, check_inputs, plan_bump
from okectl.gitops.history import SchoolHistory, SetAt
from okectl.model.resources import Address
from okectl.model.versions import version_key

GateName = Literal["order", "verified", "soak", "incidents", "freeze"]
TARGETS: tuple[Stage, ...] = ("acceptance", "production")


@dataclass(frozen=True, slots=True)
class Gate:
    name: GateName
    passed: bool
    # What was found, with its source (a record, a commit, an incident, a window).
    evidence: str
    # How it comes to pass when it does not: a command to run, or what to wait for.
    remedy: str | None = None
    # The day waiting is all it takes (soak, freeze).
    passes_on: date | None = None


@dataclass
class SchoolPromotion:
    code: str
    # The environments that move, with the version each runs now.
    targets: list[tuple[Address, str]] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    # Why nothing moves here (it runs the version already, or has no such environment).
    note: str | None = None

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)


@dataclass
class Promotion:
    supplier: str
    oke_version: str
    stage: Stage
    wave: str
    # The day the gates were weighed for.
    day: date
    order: list[Gate] = field(default_factory=list)
    schools: list[SchoolPromotion] = field(default_factory=list)
    dry_run: bool = False
    bump: BumpResult | None = None
    body_file: Path | None = None

    @property
    def moving(self) -> list[SchoolPromotion]:
        return [s for s in self.schools if s.targets]

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.order) and all(s.passed for s in self.moving)

    @property
    def failing(self) -> list[tuple[str, Gate]]:
        """(where, gate) for each gate that does not pass: the wave, or a school."""
        return [(self.wave, g) for g in self.order if not g.passed] + [
            (s.code, g) for s in self.moving for g in s.gates if not g.passed
        ]

    @property
    def command(self) -> str:
        return (
            f"okectl promote --supplier {self.supplier} --oke-version {self.oke_version} "
            f"--to {self.stage} --wave {self.wave}"
        )

    @property
    def title(self) -> str:
        return f"Promote {self.supplier} to OKE {self.oke_version} in {self.stage}: wave {self.wave}"


@dataclass(frozen=True, slots=True)
class _Env:
    address: Address
    type: str
    version: str


class _Facts:
    """What the gates look at: the environments by school, git history, the record."""

    def __init__(self, ws: Workspace, rollout: Rollout, supplier: str, version: str) -> None:
        self.ws = ws
        self.supplier = supplier
        self.version = version
        self.rollout = rollout
        self.gates = self.rollout.gates
        self.today = ws.clock.today()
        self.envs: dict[str, list[_Env]] = {}
        for res in ws.resources:
            a = res.address
            if a.kind == "environment" and a.supplier == supplier:
                self.envs.setdefault(a.school, []).append(
                    _Env(a, str(res.spec.get("type")), str(res.spec.get("oke_version")))
                )
        self.connected = sorted(self.envs)
        self._histories: dict[str, SchoolHistory] = {}
        self._record = read_record(ws.root, supplier).get(version)

    def members(self, wave: Wave) -> list[str]:
        return self.rollout.members(wave, self.connected)

    def of_type(self, code: str, stage: str) -> list[_Env]:
        return [e for e in self.envs.get(code, []) if e.type == stage]

    def at_least(self, env: _Env) -> bool:
        return version_key(env.version) >= version_key(self.version)

    def behind(self, codes: list[str], stage: str) -> list[_Env]:
        """The environments of ``stage`` in these schools that do not run the version yet."""
        return [e for code in codes for e in self.of_type(code, stage) if not self.at_least(e)]

    def set_at(self, env: _Env) -> SetAt | None:
        code = env.address.school
        if code not in self._histories:
            source = self.ws.state.source("school", code)
            assert source is not None
            self._histories[code] = SchoolHistory(self.ws.root, source.path)
        return self._histories[code].version_set(self.supplier, env.address.environment, self.version)

    # --- the gates of one environment of the previous stage --------------------------

    def verify_command(self, env: _Env) -> str:
        a = env.address
        return (
            f"okectl verify --supplier {a.supplier} --school {a.school} --environment {a.environment} "
            f"--level {self.gates.min_level} --record"
        )

    def verified(self, env: _Env, since: SetAt | None) -> Gate:
        a, v, level = env.address, self.version, self.gates.min_level
        if env.version != v:
            how = f"okectl promote --supplier {a.supplier} --oke-version {v} --to {env.type}"
            if env.type == "test":
                how = (
                    f"okectl bump --supplier {a.supplier} --oke-version {v} --environment test "
                    f"--school {a.school}"
                )
            return Gate("verified", False, f"{a} runs OKE {env.version}, not {v}", f"move it first: {how}")
        if since is None:
            return Gate(
                "verified", False, f"no commit sets OKE {v} for {a}", "commit the configuration first"
            )
        run = self._record.results.get(str(a)) if self._record is not None else None
        redo = f"run: {self.verify_command(env)}"
        if run is None:
            return Gate("verified", False, f"no verification of {a} at OKE {v} is recorded", redo)
        when = f"on {run.date} (started {run.started.isoformat()})"
        if run.passed_level < level:
            return Gate(
                "verified",
                False,
                f"{a} passed level {run.passed_level} only {when}; level {level} is needed",
                f"fix what fails, then {redo}",
            )
        if run.started < since.when:
            return Gate(
                "verified",
                False,
                f"the recorded pass of {a} {when} is from before OKE {v} was set there "
                f"({since.when.isoformat()}, commit {since.short}): it verified the old configuration",
                f"re-verify: {redo}",
            )
        until = run.date + timedelta(days=self.gates.max_verify_age_days)
        if until < self.today:
            return Gate(
                "verified",
                False,
                f"the recorded pass of {a} {when} is older than {self.gates.max_verify_age_days} days",
                f"re-verify: {redo}",
            )
        return Gate(
            "verified",
            True,
            f"{a} passed level {run.passed_level} {when}, after OKE {v} was set there on {since.day} "
            f"(commit {since.short}); counts until {until}",
        )

    def soaked(self, env: _Env, since: SetAt | None) -> Gate:
        days = self.gates.soak_days
        if since is None or env.version != self.version:
            return Gate("soak", False, f"{env.address} does not run OKE {self.version} yet", "move it first")
        ripe = since.day + timedelta(days=days)
        ran = max((self.today - since.day).days, 0)
        said = (
            f"{env.address} runs OKE {self.version} since {since.day} (commit {since.short}): "
            f"{ran} of {days} day(s)"
        )
        if ripe <= self.today:
            return Gate("soak", True, said)
        return Gate("soak", False, said, f"wait: passes on {ripe}", ripe)

    def evidence(self, env: _Env) -> tuple[Gate, Gate]:
        since = self.set_at(env) if env.version == self.version else None
        return self.verified(env, since), self.soaked(env, since)


def _reached(facts: _Facts, wave: Wave, stage: str) -> bool:
    return not facts.behind(facts.members(wave), stage)


def _choose(facts: _Facts, wave: str | None, to: Stage | None) -> tuple[Wave, Stage] | None:
    """The wave and stage to promote: as given, else the first wave not yet at the stage
    (production when no stage is given), and its lowest stage not reached."""
    waves = [w for w in facts.rollout.waves if facts.members(w)]
    if wave is not None:
        chosen = next((w for w in facts.rollout.waves if w.name == wave), None)
        if chosen is None:
            names = ", ".join(w.name for w in facts.rollout.waves)
            raise OkectlError(f"unknown wave {wave!r}; policies/rollout.yaml has: {names}")
        if not facts.members(chosen):
            raise OkectlError(f"wave {wave} has no school connected to {facts.supplier}")
    else:
        chosen = next((w for w in waves if not _reached(facts, w, to or "production")), None)
        if chosen is None:
            return None
    if to is not None:
        return chosen, to
    stage = next((s for s in TARGETS if not _reached(facts, chosen, s)), None)
    return (chosen, stage) if stage is not None else None


def _order(facts: _Facts, wave: Wave, stage: Stage) -> list[Gate]:
    earlier = [w for w in facts.rollout.waves[: facts.rollout.waves.index(wave)] if facts.members(w)]
    if not earlier:
        return [
            Gate("order", True, f"{wave.name} is the first wave with a school connected to {facts.supplier}")
        ]
    gates: list[Gate] = []
    for w in earlier:
        behind = facts.behind(facts.members(w), stage)
        if not behind:
            gates.append(
                Gate("order", True, f"wave {w.name} runs OKE {facts.version} in every {stage} environment")
            )
            continue
        shown = ", ".join(f"{e.address} ({e.version})" for e in behind[:5])
        more = f" and {len(behind) - 5} more" if len(behind) > 5 else ""
        gates.append(
            Gate(
                "order",
                False,
                f"wave {w.name} has not reached {stage} at OKE {facts.version}: {shown}{more}",
                f"promote it first: okectl promote --supplier {facts.supplier} --oke-version {facts.version} "
                f"--to {stage} --wave {w.name}",
            )
        )
    return gates


def _previous(facts: _Facts, code: str, stage: Stage, wave: Wave) -> tuple[list[_Env], bool]:
    """The environments of the previous stage whose evidence counts, and whether they are
    the school's own (True) or the same supplier's in this or an earlier wave."""
    earlier = list(reversed(STAGES[: STAGES.index(stage)]))
    for prev in earlier:
        own = facts.of_type(code, prev)
        if own:
            return own, True
    waves = facts.rollout.waves[: facts.rollout.waves.index(wave) + 1]
    others = [c for w in waves for c in facts.members(w) if c != code]
    for prev in earlier:
        found = [e for c in others for e in facts.of_type(c, prev) if e.version == facts.version]
        if found:
            return found, False
    return [], False


def _evidence_gates(facts: _Facts, code: str, stage: Stage, wave: Wave) -> list[Gate]:
    envs, own = _previous(facts, code, stage, wave)
    if not envs:
        return [
            Gate(
                "verified",
                False,
                f"{code} has no earlier stage than {stage} for {facts.supplier}, and no school of this or an "
                f"earlier wave runs OKE {facts.version} in one to take evidence from",
                "promote a school with a test or acceptance environment first",
            )
        ]
    if own:
        return [g for env in envs for g in facts.evidence(env)]
    # Borrowed evidence: one environment that passes both is enough.
    weighed = [(env, facts.evidence(env)) for env in envs]
    env, (verified, soak) = next(((e, gs) for e, gs in weighed if all(g.passed for g in gs)), weighed[0])
    lent = f"({code} has no earlier stage: evidence from {env.address}) "
    return [
        Gate(g.name, g.passed, lent + g.evidence, g.remedy, g.passes_on) for g in (verified, soak)
    ]


def _incidents(facts: _Facts, addresses: list[Address]) -> Gate:
    from okectl.incidents.derive import open_incidents

    found: dict[str, str] = {}
    for a in addresses:
        concern = open_incidents(
            facts.ws.validated, supplier=facts.supplier, environment=str(a), today=facts.today
        )
        for incident in concern:
            found.setdefault(incident.key, incident.title)
    shown = ", ".join(str(a) for a in addresses)
    if not found:
        return Gate("incidents", True, f"none open for {shown}")
    titles = "; ".join(f"{title} ({key})" for key, title in sorted(found.items()))
    return Gate(
        "incidents",
        False,
        f"{len(found)} open: {titles}",
        f"resolve it; okectl incidents --supplier {facts.supplier} shows the evidence",
    )


def _freeze(facts: _Facts, code: str, targets: list[_Env]) -> Gate:
    supplier = facts.ws.state.suppliers[facts.supplier]
    for env in targets:
        held = frozen(facts.ws.state.calendar, supplier, code, env.type, facts.today)
        if held is not None:
            return Gate(
                "freeze",
                False,
                f"{held.describe()} holds {env.address} today",
                f"wait: passes on {held.thaw}",
                held.thaw,
            )
    return Gate("freeze", True, f"no freeze window holds {', '.join(str(e.address) for e in targets)} today")


def _school(facts: _Facts, code: str, stage: Stage, wave: Wave) -> SchoolPromotion:
    at_stage = facts.of_type(code, stage)
    result = SchoolPromotion(code)
    if not at_stage:
        result.note = f"has no {stage} environment for {facts.supplier}"
        return result
    targets = [e for e in at_stage if not facts.at_least(e)]
    if not targets:
        result.note = f"runs OKE {facts.version} (or newer) in {stage} already"
        return result
    result.targets = [(e.address, e.version) for e in targets]
    previous = [e.address for e in _previous(facts, code, stage, wave)[0] if e.address.school == code]
    result.gates = [
        *_evidence_gates(facts, code, stage, wave),
        _incidents(facts, [e.address for e in targets] + previous),
        _freeze(facts, code, targets),
    ]
    return result


def promote(
    ws: Workspace,
    *,
    supplier: str,
    oke_version: str,
    to: Stage | None = None,
    wave: str | None = None,
    branch: str | None = None,
    author: str | None = None,
    dry_run: bool = False,
    body_file: Path | None = None,
    describe: Callable[[Promotion], str] | None = None,
) -> Promotion | None:
    """Weigh the gates of promoting ``oke_version`` of ``supplier`` to stage ``to`` for the
    schools of ``wave`` (by default the first wave not there yet, and its next stage), and
    when every gate passes edit the school files (on ``branch`` when given). ``describe``
    gives the pull request's body (the gates and their evidence): the commit's message
    under the title, and what is written to ``body_file``. None when every wave runs the
    version in every stage asked for already."""
    rollout = ws.state.rollout
    if rollout is None:
        raise OkectlError(
            "promote needs policies/rollout.yaml: the waves of schools a version reaches, in order"
        )
    if to is not None and to not in TARGETS:
        raise OkectlError(
            f"--to {to}: a version is promoted to acceptance or production; okectl bump puts it in test"
        )
    if not inside_git(ws.root):
        raise GitError(
            f"{ws.root}: not inside a git repository; promote learns from git when versions were set"
        )
    check_inputs(ws.state, supplier, oke_version, None, [])
    facts = _Facts(ws, rollout, supplier, oke_version)
    chosen = _choose(facts, wave, to)
    if chosen is None:
        return None
    the_wave, stage = chosen
    result = Promotion(
        supplier, oke_version, stage, the_wave.name, facts.today, dry_run=dry_run, body_file=body_file
    )
    result.order = _order(facts, the_wave, stage)
    result.schools = [_school(facts, code, stage, the_wave) for code in facts.members(the_wave)]
    if not result.passed or not result.moving:
        return result
    codes = [s.code for s in result.moving]
    if dry_run:
        result.bump = plan_bump(
            ws, supplier=supplier, oke_version=oke_version, environment=stage, schools=codes, tidy=True
        )
        return result

    def message(done: BumpResult) -> str:
        result.bump = done
        return f"{result.title}\n\n{describe(result)}" if describe is not None else done.commit_message()

    result.bump = bump(
        ws,
        supplier=supplier,
        oke_version=oke_version,
        environment=stage,
        schools=codes,
        branch=branch,
        author=author,
        tidy=True,
        describe=message,
    )
    if body_file is not None and describe is not None:
        write_atomic(body_file, describe(result), what="the pull request body")
    return result
