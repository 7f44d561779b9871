"""A third-party adapter, installed as a package that registers through the entry point,
carries plan and apply like the built-in ones: the seam an adapter author relies on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ADAPTER = '''
"""okectl_acme: a supplier whose administration API is a JSON file (for the test)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from okectl.model.resources import ActualResource, Address, fingerprint
from okectl.providers.base import Adapter, PreconditionFailed


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state_file: str
    # Raises after the write is saved: an adapter failing once it had the write.
    fail_after_write: bool = False


class AcmeProvider:
    def __init__(self, supplier: Any, path: Path, fail_after_write: bool) -> None:
        self.supplier = supplier
        self.path = path
        self.fail_after_write = fail_after_write

    def _load(self) -> dict[str, Any]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def _save(self, data: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(data, sort_keys=True))

    def _actual(self, key: str, doc: dict[str, Any]) -> ActualResource:
        return ActualResource(Address.parse(key), doc["spec"], doc["etag"], doc["labels"])

    async def list_tenants(self) -> list[str]:
        return sorted({Address.parse(k).school for k in self._load()} | {"25LV", "44TW"})

    async def read_tenants(self, schools: list[str]) -> list[ActualResource]:
        return [self._actual(k, d) for k, d in self._load().items() if Address.parse(k).school in schools]

    def _put(self, address: Address, body: dict[str, Any], labels: dict[str, str]) -> ActualResource:
        data = self._load()
        spec = dict(body)
        if "secret" in spec:
            spec["secret_fingerprint"] = fingerprint(spec.pop("secret"))
        etag = hashlib.sha256(json.dumps([spec, labels], sort_keys=True).encode()).hexdigest()[:12]
        data[str(address)] = {"spec": spec, "etag": etag, "labels": labels}
        self._save(data)
        if self.fail_after_write:
            raise RuntimeError("lost the answer")
        return self._actual(str(address), data[str(address)])

    async def create(self, address: Address, body: dict[str, Any], labels: dict[str, str]) -> ActualResource:
        if str(address) in self._load():
            raise PreconditionFailed(f"{address} exists")
        return self._put(address, body, labels)

    async def update(
        self, address: Address, body: dict[str, Any], labels: dict[str, str], etag: str
    ) -> ActualResource:
        if self._load().get(str(address), {}).get("etag") != etag:
            raise PreconditionFailed(f"{address} changed")
        return self._put(address, body, labels)

    async def delete(self, address: Address, etag: str) -> None:
        data = self._load()
        if data.get(str(address), {}).get("etag") != etag:
            raise PreconditionFailed(f"{address} changed")
        del data[str(address)]
        self._save(data)

    async def read(self, address: Address) -> ActualResource | None:
        doc = self._load().get(str(address))
        return self._actual(str(address), doc) if doc else None

    async def releases(self) -> list[Any]:
        return []

    async def service_info(self, base_url: str) -> dict[str, Any]:
        return {}

    async def aclose(self) -> None:
        pass


def create(supplier: Any, ctx: Any) -> AcmeProvider:
    return AcmeProvider(supplier, ctx.repo_root / ctx.settings.state_file, ctx.settings.fail_after_write)


ADAPTER = Adapter(name="acme", create=create, settings_model=Settings)
'''


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The adapter package, installed: its code and the dist-info naming its entry point."""
    site = tmp_path / "site"
    (site / "okectl_acme").mkdir(parents=True)
    (site / "okectl_acme" / "__init__.py").write_text(textwrap.dedent(ADAPTER))
    info = site / "okectl_acme-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: okectl-acme\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[okectl.providers]\nacme = okectl_acme:ADAPTER\n")
    return site


def _okectl(site: Path, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    env.pop("OKECTL_SANDBOX_URL", None)
    # The client secrets the example's oudtoets connections refer to.
    env.update(OUDTOETS_25LV_SECRET="s3cret-25lv-oudtoets", OUDTOETS_44TW_SECRET="s3cret-44tw-oudtoets")
    return subprocess.run(
        [sys.executable, "-m", "okectl", *args, "--repo", str(repo)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _use_acme(repo: Path, settings: str) -> None:
    """OudToets, changed by its support desk in the example, reached through acme instead."""
    path = repo / "suppliers" / "oudtoets.yaml"
    api = f"api:\n  provider: acme\n  settings: {settings}\n"
    path.write_text(re.sub(r"^api:\n(?:  .*\n)+", lambda _: api, path.read_text(), flags=re.M))


def test_plan_and_apply_go_through_an_installed_adapter(example_repo: Path, site: Path) -> None:
    _use_acme(example_repo, "{state_file: acme.json}")
    out = example_repo / "acme.plan"

    planned = _okectl(site, example_repo, "plan", "--supplier", "oudtoets", "--out", str(out))
    assert planned.returncode == 0, planned.stderr
    assert "oudtoets/25LV/production" in planned.stdout
    doc = json.loads(out.read_text())
    creates = {c["address"] for c in doc["changes"] if c["action"] == "create"}
    assert "oudtoets/25LV/production" in creates

    applied = _okectl(site, example_repo, "apply", str(out))
    assert applied.returncode == 0, applied.stderr
    written = json.loads((example_repo / "acme.json").read_text())
    assert set(written) == {c["address"] for c in doc["changes"]}
    assert written["oudtoets/25LV/production"]["labels"]["managed-by"] == "okectl"
    assert "s3cret" not in (example_repo / "acme.json").read_text()

    again = _okectl(site, example_repo, "plan", "--supplier", "oudtoets", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes." in again.stdout


def test_an_adapters_settings_are_checked_by_the_model_it_declares(example_repo: Path, site: Path) -> None:
    _use_acme(example_repo, "{state_file: acme.json, region: eu}")
    result = _okectl(site, example_repo, "validate")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "suppliers/oudtoets.yaml:9:37: api.settings.region: Extra inputs are not permitted "
        "(the acme adapter's settings)"
    ]


def test_an_adapter_that_is_not_installed_is_named_where_the_yaml_asks_for_it(example_repo: Path) -> None:
    _use_acme(example_repo, "{state_file: acme.json}")
    result = _okectl(example_repo / "no-site", example_repo, "validate")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "suppliers/oudtoets.yaml:8:13: unknown api.provider 'acme'; known providers: http, requests, sandbox"
    ]


def test_an_adapter_that_fails_once_it_had_a_write_leaves_its_outcome_unknown(
    example_repo: Path, site: Path
) -> None:
    _use_acme(example_repo, "{state_file: acme.json, fail_after_write: true}")
    result = _okectl(site, example_repo, "apply", "--auto-approve")
    assert result.returncode == 1
    unknown = [line for line in result.stderr.splitlines() if line.startswith("unknown: oudtoets/")]
    assert unknown, result.stderr
    assert all("unexpected error (RuntimeError) in the acme adapter" in line for line in unknown)
    assert not any(line.startswith("failed: oudtoets/") for line in result.stderr.splitlines())
