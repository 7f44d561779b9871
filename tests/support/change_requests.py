"""A small repository with one supplier managed by change requests (``REPO``, its client
secret ``SECRET``), and the step apply takes for it: plan, then write the requests of the
planned changes (``write_requests``)."""

from __future__ import annotations

from pathlib import Path

from okectl.engine.planner import make_plan
from okectl.engine.workspace import load_workspace
from okectl.requests.writer import WrittenRequest, write_change_requests

SECRET = "Zq8-desk-secret-25lv-0042"

REPO = {
    "okectl.yaml": "repository: test-repo\n",
    "suppliers/deskonly.yaml": """
        # yaml-language-server: $schema=../schema/supplier.schema.json
        id: deskonly
        name: DeskOnly Toetsen
        roles: [ta]
        flows: [0, 2, 3, 4]
        oke_versions: ["1.0", "1.0.1"]
        api:
          provider: requests
          settings:
            secret_channel: by phone with the school's application administrator
            export:
              delimiter: ";"
              columns: {school: BRIN, environment: Omgeving, kind: Soort, name: Naam, oke_version: OKE-versie}
              values:
                kind: {Omgeving: environment, Client: client, Rol: role}
                type: {Productie: production, Acceptatie: acceptance}
        role_names: {assessor: Beoordelaar}
        support: {email: servicedesk@deskonly.example, sla_days: 5, escalate_after_days: 10, language: nl}
    """,
    # The school's student system: verified only, its configuration is not managed here.
    "suppliers/eduplan.yaml": """
        id: eduplan
        name: EduPlan SIS
        roles: [sis]
        flows: [0, 1, 5]
        api: {provider: sandbox}
        support: {email: support@eduplan.example}
    """,
    "environments/standard.yaml": """
        id: standard
        environments:
          production: {type: production}
          acceptance: {type: acceptance}
    """,
    "policies/versions.yaml": """
        oke_versions:
          "1.0": {ooapi: "5.0", status: final}
          "1.0.1": {ooapi: "5.0", status: final}
    """,
    "schools/25LV.yaml": """
        code: 25LV
        name: Lange Veld Vakschool
        federation: entree
        schac_home: langeveld.example
        systems: {sis: eduplan}
        connections:
          deskonly:
            profile: standard
            oke_version: "1.0"
            flows: [0, 2, 3, 4]
            clients:
              eduplan:
                scopes: [nl-test-admin-flow-0, nl-test-admin-flow-2-3-4]
                secret: {env: DESK_25LV_SECRET}
        roles:
          assessor: [25lv-docenten]
    """,
}


def write_requests(repo: Path, sender: str | None = "oke-beheer@langeveld.example") -> list[WrittenRequest]:
    """The writer apply calls for a requests supplier, given every planned change: those to
    request and those requested already (apply passes only the former; the writer itself
    makes the same request of the same changes)."""
    ws = load_workspace(repo)
    run = make_plan(ws)
    return write_change_requests(
        ws.root,
        ws.state,
        [*run.plan.changes, *(a.change for a in run.plan.awaiting)],
        ws.desired,
        repository=ws.repository,
        sender=sender,
        resolve_secret=ws.resolve_secret,
    )
