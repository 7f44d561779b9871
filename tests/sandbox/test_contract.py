"""The sandbox keeps to the OpenAPI document: schemathesis finds no server errors and
no answers that break the document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import okectl.providers
from tests.support.sandbox import Sandbox

DOCUMENT = Path(okectl.providers.__file__).parent / "admin-api.yaml"

# A well-formed request can still be refused for what it means: a write whose precondition
# fails (412) or is missing (428), a page token this server never issued, or If-Match and
# If-None-Match together (400). Those are correct answers, not rejected valid data.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "403", "404", "409", "412", "428"]
"""


def test_the_document_is_openapi_3_1_and_covers_the_supplier_api() -> None:
    doc = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    assert doc["openapi"] == "3.1.0"
    assert {
        "/oauth/token",
        "/tenants",
        "/resources",
        "/releases",
        "/tenants/{school}/resources",
        "/tenants/{school}/environments",
        "/tenants/{school}/clients",
        "/tenants/{school}/roles",
        "/tenants/{school}/environments/{environment}",
        "/tenants/{school}/environments/{environment}/clients/{system}",
        "/tenants/{school}/environments/{environment}/roles/{role}",
    } == set(doc["paths"])


@pytest.mark.timeout(120)
def test_schemathesis_finds_no_server_errors_and_no_nonconforming_answers(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    pytest.importorskip("schemathesis")
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    token = sandbox.token()
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", str(DOCUMENT),
        "--url", sandbox.api(),
        "--header", f"Authorization: Bearer {token}",
        "--checks", "all",
        "--max-examples", "15",
        "--seed", "20261128",
        "--no-color",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=110, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Tested: 17" in output
