"""Builds the sandbox's synthetic OKE data from the vendored profiles (a development tool).

    python -m tools.synth    # rewrites okectl/sandbox/oke/data/*.json and okectl/verify/data/*.json

Each instance holds the required fields of its schema (and the nl-test-admin consumer
extension), with recognisable values, and is checked against the profile before writing.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema

from okectl.verify.profiles import PROFILE_FILES, profile

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_OUT = ROOT / "okectl" / "sandbox" / "oke" / "data"
VERIFY_OUT = ROOT / "okectl" / "verify" / "data"
NS = uuid.UUID("6f0d3c52-6b8e-4d53-9d1f-7b6a0c0e0b11")

STRINGS = {
    "language": "nl-NL",
    "value": "Rekenen 2F",
    "codeType": "identifier",
    "code": "RK2F-01",
    "mail": "j.jansen@student.example",
    "givenName": "Jan",
    "surname": "Jansen",
    "displayName": "Jan Jansen",
    "abbreviation": "RK2F",
    "teachingLanguage": "nld",
    "duration": "PT90M",
    "title": "Toetsrapport",
    "url": "https://toets.example/start/1",
    "consumerKey": "nl-test-admin",
}


def _uuid(name: str) -> str:
    return str(uuid.uuid5(NS, name))


def _string(schema: dict[str, Any], name: str) -> Any:
    if "enum" in schema:
        return schema["enum"][0]
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2026-09-01T09:00:00+02:00"
    if fmt == "date":
        return "2026-09-01"
    if fmt == "uuid":
        return _uuid(name)
    if fmt == "email":
        return "info@school.example"
    if fmt in ("uri", "url"):
        return "https://toets.example/" + name
    if name in STRINGS:
        return STRINGS[name]
    return name or "x"


OPTIONAL = {"language", "value", "consumerKey", "offeringState", "attendance", "resultState", "result"}


def flatten(schema: Any, depth: int = 0) -> dict[str, Any]:
    """allOf merged into one object schema (properties and required united)."""
    if not isinstance(schema, dict) or "allOf" not in schema or depth > 10:
        return schema if isinstance(schema, dict) else {}
    out: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    props: dict[str, Any] = dict(out.get("properties", {}))
    required: list[str] = list(out.get("required", []))
    for part in schema["allOf"]:
        flat = flatten(part, depth + 1)
        for k, v in flat.get("properties", {}).items():
            props.setdefault(k, v)
        required += [r for r in flat.get("required", []) if r not in required]
        for k in ("type", "oneOf", "anyOf", "enum", "format", "items"):
            if k in flat and k not in out:
                out[k] = flat[k]
    if props:
        out["properties"] = props
    if required:
        out["required"] = required
    return out


class Gen:
    def __init__(self, validator: type[Any]) -> None:
        self.validator = validator

    def ok(self, schema: Any, value: Any) -> bool:
        return bool(self.validator(schema).is_valid(value))

    def make(self, schema: Any, name: str = "", depth: int = 0) -> Any:
        if not isinstance(schema, dict) or depth > 14:
            return None
        original = schema
        schema = flatten(schema)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                options = schema[key]
                ordered = (
                    sorted(options, key=lambda o: -len(flatten(o).get("properties", {})))
                    if key == "anyOf"
                    else options
                )
                base = {k: v for k, v in schema.items() if k != key}
                for option in ordered:
                    value = self.make({"allOf": [base, option]} if base else option, name, depth + 1)
                    if self.ok(original, value):
                        return value
                return self.make(options[0], name, depth + 1)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            out: dict[str, Any] = {}
            props = schema.get("properties", {})
            wanted = list(schema.get("required", [])) + [
                p
                for p, sub in props.items()
                if p in OPTIONAL or p == "consumers" or (isinstance(sub, dict) and "enum" in flatten(sub))
            ]
            for prop in wanted:
                if prop not in out:
                    value = self.make(props.get(prop, {"type": "string"}), prop, depth + 1)
                    if value is not None:
                        out[prop] = value
            return out
        if kind == "array":
            item = self.make(schema.get("items", {}), name, depth + 1)
            return [item] if item is not None else []
        if kind == "integer":
            return int(schema.get("minimum", 1))
        if kind == "number":
            return float(schema.get("minimum", 1))
        if kind == "boolean":
            return False
        if kind == "string" or "enum" in schema or "format" in schema:
            return _string(schema, name)
        return None


# What the sandbox serves, per kind: (method, path, how to reach the item in the response).
SERVED: dict[str, tuple[str, str, bool]] = {
    "component": ("get", "/components/{componentId}", False),
    "offering": ("get", "/offerings/{offeringId}", False),
    "association": ("get", "/associations/{associationId}", False),
    "programme_association": ("get", "/persons/{personId}/associations", True),
    "person": ("get", "/persons/{personId}", False),
    "group": ("get", "/groups/{groupId}", False),
    "member": ("get", "/groups/{groupId}/members", True),
    "organization": ("get", "/organizations/{organizationId}", False),
}
# The bodies verify sends at level 4, per kind: (method, path).
SENT: dict[str, tuple[str, str]] = {
    "put_offering": ("put", "/offerings/{offeringId}"),
    "patch_offering": ("patch", "/offerings/{offeringId}"),
    "put_association": ("put", "/associations/{associationId}"),
    "patch_association": ("patch", "/associations/{associationId}"),
    "put_person": ("put", "/persons/{personId}"),
    "put_group": ("put", "/groups/{groupId}"),
    "put_member": ("put", "/groups/{groupId}/members/{personId}"),
}
IDS = {
    "componentId": _uuid("component"),
    "offeringId": _uuid("offering"),
    "associationId": _uuid("association"),
    "personId": _uuid("person"),
    "groupId": _uuid("group"),
    "organizationId": _uuid("organization"),
}


def _fix(kind: str, value: Any) -> Any:
    """Recognisable values where the generator's first choice would read oddly."""
    if not isinstance(value, dict):
        return value
    for key, ident in IDS.items():
        if key in value and isinstance(value[key], str):
            value[key] = ident
    if kind in ("association", "put_association"):
        if "associationType" in value:
            value["associationType"] = "componentOfferingAssociation"
        if "state" in value:
            value["state"] = "associated"
    if kind == "programme_association":
        value["associationType"] = "programOfferingAssociation"
        value["associationId"] = _uuid("programme-association")
    if kind in ("offering", "put_offering") and "offeringType" in value:
        value["offeringType"] = "component"
    if "name" in value and isinstance(value["name"], list):
        value["name"] = [{"language": "nl-NL", "value": "Rekenen 2F (" + kind + ")"}]
    return value


def build(version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    prof = profile(version)
    gen = Gen(jsonschema.Draft4Validator)
    served: dict[str, Any] = {}
    for kind, (method, path, listed) in SERVED.items():
        schema = prof.response_schema(method, path)
        if schema is None:
            continue
        if listed:
            schema = flatten(schema)["properties"]["items"]["items"]
        for _attempt in range(3):
            value = _fix(kind, gen.make(schema, kind))
            errors = list(jsonschema.Draft4Validator(schema).iter_errors(value))
            if not errors:
                break
        else:
            raise SystemExit(f"{version} {kind}: {errors[0].message[:300]}")
        served[kind] = value
    sent: dict[str, Any] = {}
    for kind, (method, path) in SENT.items():
        schema = prof.request_schema(method, path)
        if schema is None:
            continue
        value = _fix(kind, gen.make(schema, kind))
        errors = list(jsonschema.Draft4Validator(schema).iter_errors(value))
        if errors:
            raise SystemExit(f"{version} {kind}: {errors[0].message[:300]}")
        sent[kind] = value
    return served, sent


def files(version: str) -> dict[Path, str]:
    """The files built for an OKE version, by path: what the sandbox serves, what verify
    sends."""
    served, sent = build(version)
    return {
        SANDBOX_OUT / f"oke-{version}.json": _json(served),
        VERIFY_OUT / f"requests-{version}.json": _json(sent),
    }


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> None:
    SANDBOX_OUT.mkdir(parents=True, exist_ok=True)
    VERIFY_OUT.mkdir(parents=True, exist_ok=True)
    for version in PROFILE_FILES:
        for path, text in files(version).items():
            path.write_text(text, encoding="utf-8")
            print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
