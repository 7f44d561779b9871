"""The vendored profiles: unchanged bytes, provenance, and the five overlays of 1.0.1."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

import pytest
import yaml

from okectl.verify import profiles
from okectl.verify.profiles import OVERLAYS, PROFILE_FILES, ProfileError, profile, read_vendor

VENDOR = resources.files("okectl.verify") / "vendor"


def raw(version: str) -> dict[str, Any]:
    """The published document as it is, no overlay applied."""
    data: dict[str, Any] = yaml.load(read_vendor("oke/" + PROFILE_FILES[version]), Loader=yaml.CSafeLoader)
    return data


def test_the_vendored_files_are_the_published_bytes() -> None:
    lines = (VENDOR / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 18
    for line in lines:
        digest, name = line.split()
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_every_vendored_file_has_provenance_and_a_licence() -> None:
    provenance = (VENDOR / "PROVENANCE").read_text(encoding="utf-8")
    for name in PROFILE_FILES.values():
        assert f"oke/{name}" in provenance
    assert "oeapi-v6/Service.yaml" in provenance and "EUPL-1.2" in provenance
    assert "CC0" in (VENDOR / "oke" / "LICENSE").read_text(encoding="utf-8")
    assert "EUROPEAN UNION PUBLIC LICENCE" in (VENDOR / "oeapi-v6" / "LICENSE.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("version", list(PROFILE_FILES))
def test_every_profile_loads_once_with_its_cycles(version: str) -> None:
    loaded = profile(version)
    assert loaded is profile(version)
    assert loaded.response_schema("get", "/components") is not None
    assert "nl-test-admin-flow-0" in loaded.scopes("get", "/components")


def test_the_unbundled_0_9_4_file_has_its_references_inlined() -> None:
    schema = profile("0.9.4").response_schema("get", "/")
    assert "$ref" not in schema and "supportedConsumers" in schema["properties"]


def test_an_unknown_version_has_no_profile() -> None:
    with pytest.raises(ProfileError, match=r"no published OKE profile for version '2\.0'"):
        profile("2.0")


def test_the_1_0_1_overlays_are_all_applied_and_named() -> None:
    assert profile("1.0.1").overlays == tuple(o.key for o in OVERLAYS)


def test_overlay_1_declares_the_per_flow_scopes() -> None:
    assert set(
        raw("1.0.1")["components"]["securitySchemes"]["oAuthFlows"]["flows"]["clientCredentials"]["scopes"]
    ) == {"nl-test-admin-flow"}
    scopes = profile("1.0.1").spec["components"]["securitySchemes"]["oAuthFlows"]["flows"][
        "clientCredentials"
    ]["scopes"]
    assert set(scopes) == {
        "nl-test-admin-flow-0",
        "nl-test-admin-flow-1-5",
        "nl-test-admin-flow-2-3-4",
        "nl-test-admin-flow-6",
    }


def test_overlay_2_secures_flow_6() -> None:
    assert "security" not in raw("1.0.1")["paths"]["/persons/{personId}/associations"]["get"]
    assert profile("1.0.1").scopes("get", "/persons/{personId}/associations") == {"nl-test-admin-flow-6"}


def test_overlay_3_puts_a_member_at_its_own_path() -> None:
    assert "put" in raw("1.0.1")["paths"]["/groups/{groupId}/members"]
    loaded = profile("1.0.1")
    assert loaded.operation("put", "/groups/{groupId}/members") is None
    assert loaded.operation("put", "/groups/{groupId}/members/{personId}") is not None
    assert loaded.operation("get", "/groups/{groupId}/members") is not None


def test_overlay_4_lets_flow_1_5_fetch_documents() -> None:
    raw_security = raw("1.0.1")["paths"]["/documents/{documentId}"]["get"]["security"]
    assert raw_security == [{"oAuthFlows": ["nl-test-admin-flow-2-3-4"]}]
    assert profile("1.0.1").scopes("get", "/documents/{documentId}") == {
        "nl-test-admin-flow-1-5",
        "nl-test-admin-flow-2-3-4",
    }


def test_overlay_5_adds_the_documented_component_filters() -> None:
    def names(spec: dict[str, Any]) -> set[str]:
        return {p["name"] for p in spec["paths"]["/components"]["get"]["parameters"]}

    assert not {"componentType", "licensed", "since"} & names(raw("1.0.1"))
    assert {"componentType", "licensed", "since"} <= names(profile("1.0.1").spec)


def test_an_overlay_leaves_a_corrected_document_alone() -> None:
    spec = raw("1.0.1")
    for overlay in OVERLAYS:
        overlay.apply(spec)
        assert not overlay.present(spec), overlay.key


def test_the_v6_service_schema_loads_without_its_external_references() -> None:
    schema = profiles.v6_service_schema()
    assert schema["required"] == ["contactEmail", "specification"]
    assert "supportedOperations" in schema["properties"]
