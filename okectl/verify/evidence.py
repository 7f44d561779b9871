"""Certification evidence and the repository's record of verifications.

``verify --out DIR`` writes one pack per supplier and OKE version::

    DIR/<supplier>/oke-<version>/results.json   the environments' results, redacted excerpts
    DIR/<supplier>/oke-<version>/index.html     the same as a page
    DIR/<supplier>/oke-<version>/manifest.json  profile file and digest, overlays with their
                                                reasons, okectl's version, level, timestamps

``verify --record`` keeps ``verification/<supplier>.json`` in the repository: per OKE version,
the latest run's date, level asked, highest level every environment passed, and status. The
``verified`` policy rule kind reads it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from okectl.config.verification import RECORD_DIR, read_record, record_path
from okectl.errors import OkectlError
from okectl.files import write_atomic
from okectl.verify.model import VerifyReport
from okectl.verify.profiles import PROFILE_FILES, overlay, read_vendor


def _groups(report: VerifyReport) -> dict[tuple[str, str], VerifyReport]:
    out: dict[tuple[str, str], VerifyReport] = {}
    for env in report.environments:
        key = (env.supplier, env.oke_version)
        part = out.get(key)
        if part is None:
            part = out[key] = VerifyReport(
                level=report.level,
                okectl_version=report.okectl_version,
                started=report.started,
                finished=report.finished,
                round_trips=report.round_trips,
            )
        part.environments.append(env)
    return out


def manifest(part: VerifyReport, supplier: str, oke_version: str) -> dict[str, Any]:
    file = PROFILE_FILES.get(oke_version)
    digest = hashlib.sha256(read_vendor("oke/" + file)).hexdigest() if file else None
    applied = sorted({o for env in part.environments for o in env.overlays})
    return {
        "supplier": supplier,
        "oke_version": oke_version,
        "profile": {"file": file, "sha256": digest, "source": "NetwerkExamineringDigitalisering/NED-OOAPI"},
        "overlays": [
            {"key": key, "title": overlay(key).title, "reason": overlay(key).reason} for key in applied
        ],
        "okectl_version": part.okectl_version,
        "level": part.level,
        "started": part.started,
        "finished": part.finished,
        "status": part.status,
        "environments": [e.address for e in part.environments],
    }


def write_pack(
    report: VerifyReport,
    out: Path,
    *,
    as_json: Callable[[VerifyReport], str],
    page: Callable[..., str],
) -> list[Path]:
    """Write the evidence packs, rendered by the views given; the folders written."""
    written: list[Path] = []
    for (supplier, oke_version), part in sorted(_groups(report).items()):
        folder = out / Path(pack_link(supplier, oke_version)).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(folder / "results.json", as_json(part))
            title = f"OKE {oke_version} verification: {supplier}"
            write_atomic(folder / "index.html", page(part, title=title))
            write_atomic(
                folder / "manifest.json", json.dumps(manifest(part, supplier, oke_version), indent=2) + "\n"
            )
        except OSError as exc:
            raise OkectlError(f"{folder}: cannot write the evidence pack ({exc.strerror or exc})") from None
        written.append(folder)
    return written


def pack_link(supplier: str, oke_version: str) -> str:
    """Where an environment's pack page is, relative to the folder the packs are in."""
    return f"{supplier}/oke-{oke_version}/index.html"


def write_files(out: Path, files: dict[str, str]) -> list[Path]:
    """Write rendered outputs (``name → text``) into ``out``, beside the packs."""
    written: list[Path] = []
    for name, text in files.items():
        path = out / name
        try:
            out.mkdir(parents=True, exist_ok=True)
            write_atomic(path, text)
        except OSError as exc:
            raise OkectlError(f"{path}: cannot write ({exc.strerror or exc})") from None
        written.append(path)
    return written


def record(report: VerifyReport, root: Path, today: date) -> list[Path]:
    """Update ``verification/<supplier>.json`` with this run, per OKE version."""
    written: list[Path] = []
    for (supplier, oke_version), part in sorted(_groups(report).items()):
        path = record_path(root, supplier)
        recorded = read_record(root, supplier)
        versions = {v: run.model_dump(mode="json") for v, run in recorded.items()}
        passed = min((e.highest_passed_level() for e in part.environments), default=-1)
        # Per environment, the latest run that verified it: a run of the acceptance
        # environments leaves what the record says of the test environments.
        results = dict(versions.get(oke_version, {}).get("results", {}))
        for env in part.environments:
            results[env.address] = {
                "date": today.isoformat(),
                "started": part.started,
                "level": part.level,
                "passed_level": env.highest_passed_level(),
            }
        versions[oke_version] = {
            "date": today.isoformat(),
            "level": part.level,
            "passed_level": passed,
            "status": part.status,
            "okectl_version": part.okectl_version,
            "environments": [e.address for e in part.environments],
            # What GET / said where it named another version than the one declared.
            "drift": {e.address: e.drift for e in part.environments if e.drift},
            "results": dict(sorted(results.items())),
        }
        doc = {"supplier": supplier, "oke_versions": dict(sorted(versions.items()))}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OkectlError(
                f"{path}: cannot write the verification record ({exc.strerror or exc})"
            ) from None
        real = path.parent.resolve()
        if root.resolve() not in real.parents:
            raise OkectlError(f"{RECORD_DIR}/ leads outside the repository (to {real}); not writing there")
        write_atomic(path, json.dumps(doc, indent=2) + "\n", what="the verification record")
        if path not in written:
            written.append(path)
    return written


def recorded_drift(
    root: Path, declared: dict[str, str], *, suppliers: set[str] | None = None
) -> list[tuple[str, str, str, str]]:
    """Version drift the record holds for environments still declared at the recorded
    version: (address, declared, served, date), for `okectl plan` to show."""
    folder = root / RECORD_DIR
    if not folder.is_dir():
        return []
    out: list[tuple[str, str, str, str]] = []
    for path in sorted(folder.glob("*.json")):
        supplier = path.stem
        if suppliers is not None and supplier not in suppliers:
            continue
        for version, run in read_record(root, supplier).items():
            for address, served in run.drift.items():
                if declared.get(address) == version:
                    out.append((address, version, served, run.date.isoformat()))
    return sorted(out)
