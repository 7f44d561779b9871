"""Each sandbox environment is a real OOAPI v5 endpoint that tells its OKE version."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from okectl.model.resources import Address
from okectl.providers.base import ProviderError
from okectl.verify.profiles import profile
from tests.support.sandbox import SUPPLIER, Sandbox, run

ENV = Address(SUPPLIER, "21RC", "production")


@pytest.fixture(scope="module")
def service_schema() -> dict[str, Any]:
    # The OKE 1.0.1 profile vendored in the package: the same bytes as ooapiv5_MBO.yaml.
    schema: dict[str, Any] = profile("1.0.1").spec["components"]["schemas"]["Service"]
    return schema


def _check(document: dict[str, Any], schema: dict[str, Any]) -> None:
    jsonschema.validate(document, schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_the_service_document_validates_and_names_the_oke_version(
    sandbox: Sandbox, service_schema: dict[str, Any]
) -> None:
    async def scenario() -> dict[str, Any]:
        async with sandbox.provider() as p:
            current = await p.read(ENV)
            assert current is not None
            return await p.service_info(current.extra["base_url"])

    document = run(scenario())
    _check(document, service_schema)
    assert document["supportedVersions"] == ["v5"]
    assert document["supportedConsumers"] == [{"consumerKey": "nl-test-admin", "version": "1.0"}]
    assert document["contactEmail"] == "support@delta.example"


def test_the_service_document_follows_a_version_change(
    sandbox: Sandbox, service_schema: dict[str, Any]
) -> None:
    body = {"type": "production", "oke_version": "1.0.1", "flows": [0, 2, 3, 4]}

    async def scenario() -> tuple[str, dict[str, Any]]:
        async with sandbox.provider() as p:
            current = await p.read(ENV)
            assert current is not None
            updated = await p.update(ENV, body, current.labels, current.etag)
            return updated.extra["base_url"], await p.service_info(updated.extra["base_url"])

    base_url, document = run(scenario())
    assert base_url == f"{sandbox.url}/ooapi/{SUPPLIER}/21RC/production"
    _check(document, service_schema)
    assert document["supportedConsumers"][0]["version"] == "1.0.1"


def test_an_environment_of_a_supplier_still_on_a_draft_version(
    sandbox: Sandbox, service_schema: dict[str, Any]
) -> None:
    async def scenario() -> dict[str, Any]:
        async with sandbox.provider(sid="oudtoets") as p:
            return await p.service_info(f"{sandbox.url}/ooapi/oudtoets/21RC/production")

    document = run(scenario())
    _check(document, service_schema)
    assert document["supportedConsumers"] == [{"consumerKey": "nl-test-admin", "version": "0.9.4"}]


def test_a_missing_environment_has_no_service_document(sandbox: Sandbox) -> None:
    async def scenario() -> None:
        async with sandbox.provider() as p:
            with pytest.raises(ProviderError) as info:
                await p.service_info(f"{sandbox.url}/ooapi/{SUPPLIER}/21RC/pilot")
            assert info.value.status == 404

    run(scenario())
