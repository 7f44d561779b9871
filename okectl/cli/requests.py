"""`okectl requests`: change requests to suppliers managed by their support desk."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from okectl.cli.options import output_option, repo_option
from okectl.errors import EXIT_OK

if TYPE_CHECKING:
    from okectl.requests.tracking import OpenRequest


@click.group()
def requests() -> None:
    """Change requests to suppliers whose support desk makes the changes (requests/)."""


def _ages(repo: Path) -> dict[str, OpenRequest]:
    from okectl.engine.workspace import load_workspace
    from okectl.requests.tracking import open_requests

    ws = load_workspace(repo)
    return {o.request.id: o for o in open_requests(ws.root, ws.state)}


@requests.command("list")
@repo_option
@output_option("text", "json")
@click.option("--supplier", help="Only this supplier's requests.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["open", "confirmed", "rejected", "cancelled"]),
    help="Only requests with this status (repeatable).",
)
def list_(repo: Path, output: str, supplier: str | None, statuses: tuple[str, ...]) -> int:
    """Every change request, with its status and its age against the supplier's SLA."""
    from okectl.errors import ValidationFailed
    from okectl.requests.store import list_requests
    from okectl.views.requests import render_list, render_list_json

    found, problems = list_requests(repo, supplier=supplier)
    if problems:
        raise ValidationFailed(problems)
    ages = _ages(repo)
    shown = [r for r in found if not statuses or r.status.status in statuses]
    shown.sort(key=lambda r: (r.status.requested_on, r.id))
    render = render_list_json if output == "json" else render_list
    click.echo(render(shown, ages), nl=False)
    return EXIT_OK


@requests.command()
@repo_option
@output_option("text", "json")
@click.argument("rid", metavar="ID")
def show(repo: Path, output: str, rid: str) -> int:
    """A change request as the support desk gets it, with its status and history."""
    import json

    from okectl.files import read_regular
    from okectl.requests.store import REQUEST_MD, find_request
    from okectl.views.requests import render_show, request_json

    found = find_request(repo, rid)
    age = _ages(repo).get(rid)
    if output == "json":
        click.echo(json.dumps(request_json(found, age), indent=2, sort_keys=True))
        return EXIT_OK
    markdown = read_regular(found.folder / REQUEST_MD, what="the change request", limit=1 << 20)
    text = markdown.decode("utf-8", "replace")
    click.echo(render_show(found, text, age), nl=False)
    return EXIT_OK


@requests.command()
@repo_option
@click.argument("rid", metavar="ID")
@click.option("--ref", required=True, help="The supplier's ticket reference.")
@click.option("--by", help="Who confirms it (a name or e-mail address).")
def confirm(repo: Path, rid: str, ref: str, by: str | None) -> int:
    """The supplier carried out the request: record what it asked for as the supplier's state."""
    from okectl.requests.tracking import confirm_request

    outcome = confirm_request(repo, rid, ref=ref, by=by)
    if outcome.changed:
        click.echo(
            f"Confirmed {rid} (ticket {ref}); recorded in {outcome.record}. Commit it with the request."
        )
    else:
        click.echo(f"{rid} was already confirmed with ticket {ref}; nothing changed.")
    return EXIT_OK


@requests.command()
@repo_option
@click.argument("rid", metavar="ID")
@click.option("--reason", required=True, help="Why the supplier refused.")
@click.option("--by", help="Who records it.")
def reject(repo: Path, rid: str, reason: str, by: str | None) -> int:
    """The supplier refused the request: keep it with the reason; plan proposes its changes again."""
    from okectl.requests.tracking import reject_request

    outcome = reject_request(repo, rid, reason=reason, by=by)
    verb = "Rejected" if outcome.changed else "Already rejected:"
    click.echo(f"{verb} {rid}; its changes are still to do (okectl plan shows them).")
    return EXIT_OK


@requests.command()
@repo_option
@click.argument("rid", metavar="ID")
@click.option("--by", help="Who withdraws it.")
def cancel(repo: Path, rid: str, by: str | None) -> int:
    """Withdraw an open request; plan proposes its changes again."""
    from okectl.requests.tracking import cancel_request

    outcome = cancel_request(repo, rid, by=by)
    verb = "Cancelled" if outcome.changed else "Already cancelled:"
    click.echo(f"{verb} {rid}.")
    return EXIT_OK


@requests.command()
@repo_option
@click.argument("rids", metavar="ID...", nargs=-1)
@click.option("--all-open", is_flag=True, help="Send every open request (of --supplier, when given).")
@click.option("--supplier", help="With --all-open: only this supplier's.")
def send(repo: Path, rids: tuple[str, ...], all_open: bool, supplier: str | None) -> int:
    """Send requests' e-mail (request.eml) through the SMTP server in okectl.yaml (smtp:)."""
    from okectl.engine.workspace import load_workspace
    from okectl.errors import OkectlError, ValidationFailed
    from okectl.requests.mail import send_requests
    from okectl.requests.store import find_request, list_requests

    if bool(rids) == all_open:
        raise OkectlError("name the requests to send, or pass --all-open")
    if all_open:
        found, problems = list_requests(repo, supplier=supplier)
        if problems:
            raise ValidationFailed(problems)
        chosen = [r for r in found if r.status.status == "open"]
    else:
        chosen = [find_request(repo, rid) for rid in rids]
    if not chosen:
        click.echo("No open requests to send.")
        return EXIT_OK
    ws = load_workspace(repo)
    sent = send_requests(
        ws.root,
        chosen,
        ws.settings.smtp,
        resolve_secret=lambda ref: ws.resolve_secret(ref.describe()),
    )
    for item in sent:
        click.echo(f"sent {item.request} to {', '.join(item.recipients)}")
    return EXIT_OK


def import_export(repo: Path, supplier: str, schools: tuple[str, ...], write: bool, export: Path) -> int:
    """``okectl import --supplier S --from FILE``: a supplier's export against its record."""
    from okectl.engine.workspace import load_workspace
    from okectl.requests.exports import import_export as run_import
    from okectl.views.requests import render_export_import

    ws = load_workspace(repo)
    result = run_import(ws.root, ws.state, supplier, export, schools=set(schools) or None, write=write)
    click.echo(render_export_import(result), nl=False)
    return EXIT_OK
