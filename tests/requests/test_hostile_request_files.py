"""Request folders as a pull request may commit them: every command that reads them
(requests list, show, confirm, cancel, send, plan) refuses a request that is not one okectl
could have written with one located line, writes nothing, and shows what a person or a
pull request typed into a request's status escaped."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from okectl.requests.writer import WrittenRequest
from tests.support.cli import run_cli

Edit = Callable[[dict[str, Any]], None]


def _address(index: int, address: str) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        doc["changes"][index]["address"] = address

    return edit


def _field(index: int, key: str, value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        doc["changes"][index][key] = value

    return edit


def _after(index: int, key: str, value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        doc["changes"][index]["after"][key] = value

    return edit


def _every_address(old: str, new: str) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        for change in doc["changes"]:
            change["address"] = change["address"].replace(old, new)

    return edit


# request.json as a pull request may change it → what the one line says. Change 0 is the
# acceptance environment, 1 its client, 2 its role (the writer's order).
DOCUMENTS: dict[str, tuple[Edit, str]] = {
    "address-too-short": (
        _address(0, "deskonly/25LV"),
        "changes.0.address: 'deskonly/25LV' is not in the form",
    ),
    "address-climbing-out": (_address(0, "deskonly/25LV/../../etc"), "is not in the form okectl writes"),
    "address-with-control-characters": (_address(0, "deskonly/25LV/acc\x1b[2J"), "is not in the form"),
    "address-of-another-supplier": (
        _every_address("deskonly/25LV", "eduplan/25LV"),
        "changes.0: eduplan/25LV/acceptance is not of deskonly/25LV",
    ),
    "address-of-another-school": (
        _every_address("deskonly/25LV", "deskonly/99XX"),
        "changes.0: deskonly/99XX/acceptance is not of deskonly/25LV",
    ),
    "kind-not-the-addresses": (_field(1, "kind", "environment"), "is not the environment this change names"),
    "environment-not-the-addresses": (_field(0, "environment", "production"), "is not the environment"),
    "name-not-the-addresses": (_field(2, "name", "admin"), "is not the role this change names"),
    "version-as-a-number": (
        _after(0, "oke_version", 1.1),
        "after.oke_version: Input should be a valid string",
    ),
    "version-of-another-shape": (_after(0, "oke_version", "latest"), "after.oke_version"),
    "flows-as-text": (_after(0, "flows", "all"), "after.flows"),
    "sso-as-text": (_after(0, "sso", "required"), "after.sso"),
    "a-field-no-environment-has": (
        _after(0, "base_url", "https://evil.example"),
        "after: base_url: not a field",
    ),
    "a-secret-in-the-values": (_after(1, "secret", "hunter2"), "after: secret: not a field of a client"),
    "a-delete-with-values": (_field(0, "action", "delete"), "a delete asks for no values"),
    "a-create-without-values": (_field(0, "after", None), "a delete asks for no values"),
}

# status.yaml as a pull request may change it → what the one line says.
STATUSES: dict[str, tuple[Edit, str]] = {
    "secret-of-no-client-asked": (
        lambda d: d["secrets"].update({"deskonly/25LV/production/client/other": d["secrets"].popitem()[1]}),
        "secrets: deskonly/25LV/production/client/other is not a client whose secret this request exchanges",
    ),
    "secret-key-not-an-address": (
        lambda d: d["secrets"].update({"../../x": next(iter(d["secrets"].values()))}),
        "secrets: ../../x is not a client",
    ),
    "history-date-not-a-date": (
        lambda d: d["history"][0].update(date="yesterday"),
        "history[0].date: expected a date written as YYYY-MM-DD",
    ),
    "history-not-a-list": (lambda d: d.update(history="lots"), "history: expected a list"),
}


def _edit_json(folder: Path, edit: Edit) -> None:
    path = folder / "request.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")


def _edit_status(folder: Path, edit: Edit) -> None:
    path = folder / "status.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _snapshot(repo: Path) -> dict[str, bytes]:
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for top in ("requests", "state")
        for p in sorted((repo / top).rglob("*"))
        if p.is_file()
    }


COMMANDS = {
    "list": ("requests", "list"),
    "show": ("requests", "show", "{id}"),
    "confirm": ("requests", "confirm", "{id}", "--ref", "DESK-1"),
    "cancel": ("requests", "cancel", "{id}"),
    "send": ("requests", "send", "{id}"),
    "plan": ("plan",),
}


def _refused_everywhere(repo: Path, rid: str, file: str, says: str) -> None:
    before = _snapshot(repo)
    for name, args in COMMANDS.items():
        result = run_cli(*(a.format(id=rid) for a in args), "--repo", str(repo))
        lines = result.err.strip().splitlines()
        assert result.exit_code == 1, (name, result.out, result.err)
        assert "Traceback" not in result.err and "internal error" not in result.err, (name, result.err)
        assert len(lines) == 1, (name, lines)
        assert lines[0].startswith(f"requests/deskonly/{rid}/{file}:"), (name, lines)
        assert says in lines[0], (name, lines)
        assert "\x1b" not in result.err
    assert _snapshot(repo) == before


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_a_request_json_no_okectl_wrote_is_one_line_in_every_command(
    requested: tuple[Path, WrittenRequest], name: str
) -> None:
    repo, written = requested
    edit, says = DOCUMENTS[name]
    _edit_json(written.request.folder, edit)
    _refused_everywhere(repo, written.request.id, "request.json", says)


@pytest.mark.parametrize("name", sorted(STATUSES))
def test_a_status_no_okectl_wrote_is_one_line_in_every_command(
    requested: tuple[Path, WrittenRequest], name: str
) -> None:
    repo, written = requested
    edit, says = STATUSES[name]
    _edit_status(written.request.folder, edit)
    _refused_everywhere(repo, written.request.id, "status.yaml", says)


def test_a_request_copied_under_another_supplier_is_not_a_request_of_it(
    requested: tuple[Path, WrittenRequest],
) -> None:
    """A supplier sorting first ("aaa") once made `confirm ID` take the copy, and write the
    copy's changes into that supplier's record."""
    repo, written = requested
    rid = written.request.id
    copy = repo / "requests" / "aaa" / rid
    shutil.copytree(written.request.folder, copy)
    _edit_status(copy, lambda d: d.update(supplier="aaa"))
    _edit_json(copy, lambda d: (d["supplier"].update(id="aaa"), _every_address("deskonly/", "aaa/")(d)))
    before = _snapshot(repo)
    result = run_cli("requests", "confirm", rid, "--ref", "DESK-1", "--repo", str(repo))
    assert result.exit_code == 1, result.out
    assert result.err.strip().splitlines() == [
        f"requests/aaa/{rid}/status.yaml:1:5: id {rid} is not a request of aaa for 25LV "
        "(okectl names them aaa-25lv-…)"
    ]
    assert _snapshot(repo) == before


# What a person typed at `requests confirm --ref/--by` or `reject --reason`, or a pull
# request wrote into status.yaml or request.md: terminal controls, a bidirectional override.
HOSTILE = "\x1b[2J\x1b]0:pwned\x07\u202eevil\r"


def test_what_a_status_and_request_md_hold_is_shown_escaped(requested: tuple[Path, WrittenRequest]) -> None:
    repo, written = requested
    rid = written.request.id
    result = run_cli(
        "requests", "reject", rid, "--reason", f"no {HOSTILE}", "--by", HOSTILE, "--repo", str(repo)
    )
    assert result.exit_code == 0, result.err
    _edit_status(written.request.folder, lambda d: d.update(ticket=f"T{HOSTILE}"))
    md = written.request.folder / "request.md"
    md.write_text(md.read_text(encoding="utf-8") + f"\nplanted {HOSTILE} line\n", encoding="utf-8")
    for args in (("requests", "list"), ("requests", "show", rid)):
        shown = run_cli(*args, "--repo", str(repo))
        assert shown.exit_code == 0, shown.err
        assert not any(c in shown.out for c in "\x1b\x07\u202e\r"), shown.out
        assert "\\x1b[2J\\x1b]0:pwned\\x07\\u202eevil\\r" in shown.out
    show = run_cli("requests", "show", rid, "--repo", str(repo)).out
    assert "by \\x1b[2J\\x1b]0:pwned\\x07\\u202eevil\\r - no \\x1b[2J" in show
    assert "planted \\x1b[2J" in show
