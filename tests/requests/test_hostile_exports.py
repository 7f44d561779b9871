"""okectl import --from FILE with what a hostile supplier (or a careless export) sends: each
export is refused with one located line per problem, no traceback, and nothing written;
what a value may hold is plain text, in the shape the export's format gives it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import run_cli

pytestmark = pytest.mark.timeout(120)

HEADER = "BRIN;Omgeving;Soort;Naam;OKE-versie;flows;sso_schac_home\n"
ROW = '25LV;production;Omgeving;;{oke};0|2|3|4;"{home}"\n'
ITEM = {"BRIN": "25LV", "Omgeving": "production", "OKE-versie": "1.0", "flows": [0, 2, 3, 4]}

# The characters that restyle a terminal, start a line or reorder what a reviewer reads.
HIDDEN = ["\x1b[2J", "\x1b]0:title\x07", "\r", "\u202e", "\u200b", "\u2028", "\x85", "\ufeff", "\x7f"]


def _csv(home: str = "langeveld.example", oke: str = "1.0") -> bytes:
    return (HEADER + ROW.format(oke=oke, home=home)).encode("utf-8")


def _json(**fields: object) -> bytes:
    return json.dumps([{**ITEM, **fields}]).encode("utf-8")


# name → (file suffix, bytes, what the one line says)
CASES: dict[str, tuple[str, bytes, str]] = {
    **{
        f"csv-hidden-{i}": (".csv", _csv(home=f"lange{c}veld.example"), "control or formatting character")
        for i, c in enumerate(HIDDEN)
    },
    "csv-newline-in-a-quoted-cell": (
        ".csv",
        (HEADER + '25LV;production;Omgeving;;1.0;0;"lange\nveld"\n').encode(),
        "U+000A",
    ),
    **{
        f"json-hidden-{i}": (
            ".json",
            _json(sso_schac_home=f"x{c}y"),
            "item 1: sso_schac_home: holds a control",
        )
        for i, c in enumerate(HIDDEN)
    },
    "json-lone-surrogate": (
        ".json",
        b'[{"BRIN": "25LV", "Omgeving": "production", "flows": ["\\ud800"]}]',
        "U+D800",
    ),
    "json-duplicate-key": (
        ".json",
        b'[{"BRIN": "25LV", "Omgeving": "production", "OKE-versie": "1.0", "OKE-versie": "1.0.1"}]',
        '"OKE-versie" appears twice',
    ),
    "json-huge-integer": (
        ".json",
        b'[{"BRIN": "25LV", "Omgeving": "production", "flows": [1' + b"0" * 5000 + b"]}]",
        "digits",
    ),
    "json-nan": (
        ".json",
        b'[{"BRIN": "25LV", "Omgeving": "production", "flows": [NaN]}]',
        "NaN is not a JSON value",
    ),
    "json-infinity": (
        ".json",
        b'[{"BRIN": "25LV", "Omgeving": "production", "flows": [-Infinity]}]',
        "-Infinity",
    ),
    "json-float-version": (".json", _json(**{"OKE-versie": 1.10}), 'write it as text ("1.10")'),
    "json-nested-list": (".json", _json(flows=[[0], 2]), "an item of the list is a list"),
    "json-object-in-list": (".json", _json(flows=[{"a": 1}, 2]), "an item of the list is an object"),
    "json-bool": (".json", _json(type=True), "true or false"),
    "json-second-bad-item": (
        ".json",
        json.dumps([ITEM, {**ITEM, "flows": ["x"]}]).encode(),
        "item 2: flows.0",
    ),
    "json-contradicting-duplicate-rows": (
        ".json",
        json.dumps([ITEM, {**ITEM, "OKE-versie": "1.0.1"}]).encode(),
        "item 2: deskonly/25LV/production again (first at item 1)",
    ),
    "yaml-unquoted-version": (
        ".yaml",
        b"- {BRIN: 25LV, Omgeving: production, OKE-versie: 1.10}\n",
        '("1.10")',
    ),
    "yaml-nested-list": (".yaml", b"- {BRIN: 25LV, Omgeving: production, flows: [[0], 2]}\n", "is a list"),
    "yaml-date": (".yaml", b"- {BRIN: 25LV, Omgeving: production, OKE-versie: 2026-01-01}\n", "a date"),
    "yaml-hidden": (".yaml", b'- {BRIN: 25LV, Omgeving: production, sso_schac_home: "a\\e[2Jb"}\n', "U+001B"),
    "yaml-billion-laughs": (
        ".yaml",
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
            )
        ).encode(),
        "aliases used as a YAML bomb",
    ),
    "yaml-deep": (".yaml", b"[" * 10000 + b"]" * 10000, "nested more than"),
    "csv-contradicting-duplicate-rows": (
        ".csv",
        _csv() + ROW.format(oke="1.0.1", home="x").encode(),
        "deskonly/25LV/production again (first at line 2)",
    ),
}

LOCATED = re.compile(r"^export\.(csv|json|yaml):\d+:\d+: ")


def _import(repo: Path, export: Path, *extra: str) -> tuple[int, list[str], str]:
    result = run_cli(
        "import", "--supplier", "deskonly", "--from", str(export), "--write", "--repo", str(repo), *extra
    )
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    return result.exit_code, result.err.strip().splitlines(), result.out


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_export_is_one_located_line_and_nothing_is_written(
    desk_repo: Path, tmp_path: Path, name: str
) -> None:
    suffix, data, says = CASES[name]
    export = tmp_path / f"export{suffix}"
    export.write_bytes(data)
    code, lines, out = _import(desk_repo, export)
    assert code == 1, (out, lines)
    assert len(lines) == 1, lines
    assert LOCATED.match(lines[0]), lines
    assert says in lines[0], lines
    # Shown on a terminal, the line carries none of the characters it names.
    assert not any(c in lines[0] for c in HIDDEN), lines
    assert not (desk_repo / "state").exists()


def test_the_same_values_as_plain_text_are_imported(desk_repo: Path, tmp_path: Path) -> None:
    """The refusals above are of the values' form, not of the resources: the same rows
    written plainly import (a control to the corpus)."""
    for suffix, data in (
        (".csv", _csv()),
        (".json", _json()),
        (".yaml", b'- {BRIN: 25LV, Omgeving: production, OKE-versie: "1.10"}\n'),
    ):
        export = tmp_path / f"export{suffix}"
        export.write_bytes(data)
        code, lines, _ = _import(desk_repo, export)
        if suffix == ".yaml":
            # "1.10" quoted is the version 1.10, and stays so (no version okectl knows, still a version).
            assert code == 0, lines
            assert "oke_version: '1.10'" in (desk_repo / "state/deskonly/25LV.yaml").read_text()
        else:
            assert code == 0, lines


def _header_of(columns: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(";".join(f"c{i}" for i in range(columns)) + "\n" + "x;" * 3 + "\n", encoding="utf-8")

    return write


@pytest.mark.timeout(60)
def test_a_header_of_a_million_columns_is_read_in_linear_time(desk_repo: Path, tmp_path: Path) -> None:
    """The duplicate-column check once counted each name in the whole header: a million
    columns (about 8 MiB, within the size limit) took hours."""
    export = tmp_path / "export.csv"
    _header_of(1_000_000)(export)
    code, lines, _ = _import(desk_repo, export)
    assert code == 1
    assert lines == [
        "export.csv:1:1: no column 'BRIN', 'Omgeving'; "
        "name it in api.settings.export.columns of the supplier file"
    ]


def test_a_duplicated_column_among_a_million_is_named(desk_repo: Path, tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "BRIN;Omgeving;" + ";".join(f"c{i % 500_000}" for i in range(1_000_000)) + "\n", encoding="utf-8"
    )
    code, lines, _ = _import(desk_repo, export)
    assert code == 1 and len(lines) == 1
    assert lines == [
        "export.csv:1:1: the column(s) c0, c1, c10, c100, c1000, … (500,000 in all) appear twice"
    ]
