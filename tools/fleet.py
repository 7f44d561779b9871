"""A generator of large, valid configuration repositories, for benchmarks and tests.

The same seed always writes the same files, so figures measured on a fleet can be
compared between runs. It writes only into a new or empty folder, each file as okectl
writes its own (``okectl.files.write_atomic``).

    python -m tools.fleet --out DIR [--schools N] [--suppliers M] [--connections C] [--seed S]
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from okectl.errors import EXIT_ERROR, EXIT_OK, OkectlError
from okectl.files import write_atomic

ROLES_YAML = """\
roles:
  exam-committee: {description: Examencommissie; determines results and sets them final}
  exam-office: {description: Examenbureau, required_for: [sis, tpl]}
  examiner: {description: Examinator}
  assessor: {description: Beoordelaar, oke_role: assessor, required_for: [ta]}
  invigilator: {description: Surveillant, oke_role: invigilator, required_for: [ta]}
  coordinator: {description: Afnameleider, oke_role: coordinator, required_for: [ta]}
  test-coordinator: {description: Toetscoordinator, required_for: [tpl]}
  application-admin: {description: Applicatiebeheerder, required_for: [sis, tpl, ta]}
  board: {description: College van bestuur}
  student: {description: Student, oke_role: student}
separation_of_duties:
  - {roles: [exam-committee, assessor], reason: the committee does not assess the results it determines}
  - {roles: [application-admin, exam-committee], reason: technical admins cannot set results final}
  - {roles: [board, exam-committee], reason: board members are not in the exam committee}
  - {roles: [student, assessor], reason: a student never holds a staff role}
  - {roles: [student, invigilator], reason: a student never holds a staff role}
"""

VERSIONS_YAML = """\
oke_versions:
  "0.9.4": {ooapi: "5.0", status: outdated, released: 2024-03-01, end_of_support: 2025-06-30}
  "1.0": {ooapi: "5.0", status: final, released: 2024-09-18, end_of_support: 2027-12-31}
  "1.0.1": {ooapi: "5.0", status: final, released: 2026-05-27}
  "1.1": {ooapi: "5.0", status: concept}
"""

PROFILES = {
    "standard": "id: standard\nenvironments:\n"
    "  production: {type: production, sso: required}\n"
    "  acceptance: {type: acceptance, sso: required}\n",
    "minimal": "id: minimal\nenvironments:\n  production: {type: production, sso: required}\n",
    "extended": "id: extended\nenvironments:\n"
    "  production: {type: production, sso: required}\n"
    "  acceptance: {type: acceptance, sso: required}\n"
    "  test: {type: test, sso: optional}\n",
}

TA_FLOWS = "[0, 2, 3, 4]"
ROLE_NAMES = {
    "ta": ["assessor", "invigilator", "coordinator", "application-admin"],
    "tpl": ["exam-office", "test-coordinator", "application-admin"],
    "sis": ["exam-office", "exam-committee", "application-admin"],
}


@dataclass(frozen=True)
class FleetStats:
    files: int
    schools: int
    suppliers: int


def _school_code(i: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return f"{i % 100:02d}{letters[(i // 100) % 26]}{letters[(i // 2600) % 26]}"


SETTINGS_FILE = "okectl.yaml"
FLEET_SETTINGS = "# A generated repository for benchmarks and tests.\nrepository: fleet\n"


def _empty_folder(out: Path) -> None:
    """Refuse to write into anything but a new or empty folder: the fleet's files would
    mix with (and silently replace) what is there."""
    if out.is_symlink():
        raise OkectlError(f"{out}: is a symbolic link; give a new or empty folder")
    if not out.exists():
        return
    if not out.is_dir():
        raise OkectlError(f"{out}: exists and is not a folder; give a new or empty folder")
    if any(out.iterdir()):
        raise OkectlError(f"{out}: is not empty; fleet writes a new repository into a new or empty folder")


def _write(path: Path, text: str) -> None:
    # Not flushed one by one: a fleet is thousands of files in a new folder, cheap to redo.
    write_atomic(path, text, what="a generated file", durable=False)


def generate_fleet(
    out: Path, *, schools: int = 100, suppliers: int = 30, connections: int = 8, seed: int = 1
) -> FleetStats:
    """Write a repository with that many schools and suppliers; each school connects to
    about ``connections`` suppliers (one planning supplier and the rest test delivery)."""
    if schools > 67_600:
        raise ValueError("at most 67,600 distinct school codes")
    _empty_folder(out)
    rng = random.Random(seed)
    for folder in ("schools", "suppliers", "environments", "policies"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    files = 0
    _write(out / SETTINGS_FILE, FLEET_SETTINGS)
    _write(out / "policies" / "roles.yaml", ROLES_YAML)
    _write(out / "policies" / "versions.yaml", VERSIONS_YAML)
    files += 3
    for pid, text in PROFILES.items():
        _write(out / "environments" / f"{pid}.yaml", text)
        files += 1

    n_tpl = max(2, suppliers // 10)
    tpl_ids = [f"plan-{i:03d}" for i in range(n_tpl)]
    ta_ids = [f"toets-{i:03d}" for i in range(suppliers - n_tpl)]
    for sid in tpl_ids:
        roles = dict.fromkeys(ROLE_NAMES["sis"] + ROLE_NAMES["tpl"])
        names = "\n".join(f"  {r}: {sid.title()} {r}" for r in roles)
        _write(
            out / "suppliers" / f"{sid}.yaml",
            f"id: {sid}\nname: {sid.title()} Studieplanning\nroles: [sis, tpl]\n"
            'flows: [0, 1, 2, 3, 4, 5]\noke_versions: ["1.0", "1.0.1"]\n'
            "api: {provider: sandbox, limits: {concurrency: 8, requests_per_second: 200}}\n"
            f"role_names:\n{names}\n"
            "privacy: {processing_agreement: model-4.0, dpia: {status: approved, date: 2025-01-15}}\n"
            f'certification: [{{oke: "1.0", status: certified, date: 2025-02-01}}]\n'
            f"support: {{email: support@{sid}.example}}\n"
        )
    for sid in ta_ids:
        names = "\n".join(f"  {r}: {r.replace('-', ' ').title()}" for r in ROLE_NAMES["ta"])
        _write(
            out / "suppliers" / f"{sid}.yaml",
            f"id: {sid}\nname: {sid.title()} Toetsafname\nroles: [ta]\nflows: {TA_FLOWS}\n"
            'oke_versions: ["1.0", "1.0.1"]\n'
            "api: {provider: sandbox, limits: {concurrency: 8, requests_per_second: 200}}\n"
            f"role_names:\n{names}\n"
            "privacy: {processing_agreement: model-4.0, dpia: {status: approved, date: 2025-03-01}}\n"
            'certification:\n  - {oke: "1.0", status: certified, date: 2025-04-01}\n'
            '  - {oke: "1.0.1", status: certified, date: 2026-07-01}\n'
            f"support: {{email: support@{sid}.example}}\n"
        )
    files += len(tpl_ids) + len(ta_ids)

    for i in range(schools):
        code = _school_code(i)
        tpl = rng.choice(tpl_ids)
        tas = rng.sample(ta_ids, min(len(ta_ids), max(0, connections - 1)))
        oke = rng.choice(["1.0", "1.0.1", "1.0.1"])
        federation = "surfconext" if rng.random() < 0.8 else "entree"
        lines = [
            f"code: {code}",
            f"name: Fleet School {code}",
            f"federation: {federation}",
            f"schac_home: school-{code.lower()}.example",
            f"systems: {{sis: {tpl}, tpl: {tpl}}}",
            "connections:",
            f"  {tpl}:",
            "    profile: standard",
            "    function: tpl",
            f'    oke_version: "{oke}"',
            "    flows: [0, 1, 2, 3, 4, 5]",
            f"    clients: {{{tpl}: {{scopes: [nl-test-admin-flow-1-5]}}}}",
        ]
        for ta in tas:
            profile = rng.choice(["extended"] * 8 + ["standard", "minimal"])
            lines += [
                f"  {ta}:",
                f"    profile: {profile}",
                f'    oke_version: "{oke}"',
                f"    flows: {TA_FLOWS}",
                f"    clients: {{{tpl}: {{scopes: [nl-test-admin-flow-0, nl-test-admin-flow-2-3-4]}}}}",
            ]
        lines += [
            "roles:",
            f"  exam-committee: [{code.lower()}-examencommissie]",
            f"  exam-office: [{code.lower()}-examenbureau]",
            f"  assessor: [{code.lower()}-docenten]",
            f"  invigilator: [{code.lower()}-surveillanten]",
            f"  coordinator: [{code.lower()}-afnameleiders]",
            f"  test-coordinator: [{code.lower()}-toetscoordinatie]",
        ]
        _write(out / "schools" / f"{code}.yaml", "\n".join(lines) + "\n")
        files += 1
    return FleetStats(files=files, schools=schools, suppliers=len(tpl_ids) + len(ta_ids))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--schools", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--suppliers", type=click.IntRange(4, 1_000), default=30, show_default=True)
@click.option(
    "--connections",
    type=click.IntRange(1, 100),
    default=8,
    show_default=True,
    help="Suppliers each school connects to.",
)
@click.option("--seed", type=int, default=1, show_default=True)
def fleet(out_dir: Path, schools: int, suppliers: int, connections: int, seed: int) -> None:
    """Write a generated, valid repository of the given size (for benchmarks and tests)."""
    stats = generate_fleet(out_dir, schools=schools, suppliers=suppliers, connections=connections, seed=seed)
    click.echo(
        f"wrote {stats.files} files to {out_dir}: {stats.schools} schools, {stats.suppliers} suppliers"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.fleet``: an exit code, and one line per problem on stderr."""
    try:
        args = list(argv) if argv is not None else None
        fleet.main(args=args, prog_name="python -m tools.fleet", standalone_mode=False)
    except OkectlError as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
