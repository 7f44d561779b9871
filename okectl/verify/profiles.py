"""The published OKE profiles (one bundled OpenAPI document per OKE version) and the OEAPI v6
``Service`` schema, loaded from the vendored files with explicit overlays.

The vendored bytes are never edited (``vendor/SHA256SUMS`` holds their digests); where a
published file contradicts its own specification text, an `Overlay` corrects the loaded
document and every result says which overlays it was checked with.

The bundled files express shared schemas as YAML anchors and aliases, some of them cyclic, so
the loaded document is a cyclic Python object: it is only ever walked along one path (an
operation's response schema), never serialised whole.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from okectl.errors import OkectlError

SCOPES: dict[str, str] = {
    "flow-0": "nl-test-admin-flow-0",
    "flow-1-5": "nl-test-admin-flow-1-5",
    "flow-2-3-4": "nl-test-admin-flow-2-3-4",
    "flow-6": "nl-test-admin-flow-6",
}
# OKE version → vendored file; "1.1" is the concept of the 1.1 branch.
PROFILE_FILES: dict[str, str] = {
    "0.9.3": "oke-0.9.3.yaml",
    "0.9.4": "oke-0.9.4.yaml",
    "1.0": "oke-1.0.yaml",
    "1.0.1": "oke-1.0.1.yaml",
    "1.1": "oke-1.1-concept.yaml",
}
V6_SERVICE_FILE = "oeapi-v6/Service.yaml"

Spec = dict[str, Any]


class ProfileError(OkectlError):
    """No published profile for a version, or a vendored file that cannot be read."""


@dataclass(frozen=True, slots=True)
class Overlay:
    """One correction of a published file, applied to the loaded document."""

    key: str
    title: str
    reason: str
    # Whether the loaded document still shows the defect: an overlay only touches a document
    # that has it, so a corrected future file is simply left alone.
    present: Callable[[Spec], bool]
    apply: Callable[[Spec], None]


def _scheme_scopes(spec: Spec) -> dict[str, Any]:
    flows = spec["components"]["securitySchemes"]["oAuthFlows"]["flows"]
    scopes: dict[str, Any] = flows["clientCredentials"]["scopes"]
    return scopes


def _declares_only_generic_scope(spec: Spec) -> bool:
    return set(_scheme_scopes(spec)) == {"nl-test-admin-flow"}


def _declare_flow_scopes(spec: Spec) -> None:
    scopes = _scheme_scopes(spec)
    scopes.pop("nl-test-admin-flow", None)
    scopes.update(
        {
            SCOPES["flow-0"]: "flow 0: the test catalogue",
            SCOPES["flow-1-5"]: "flows 1 and 5: candidates and results between SIS and TPL",
            SCOPES["flow-2-3-4"]: "flows 2, 3 and 4: planning, results and reports between TPL and TA",
        }
    )
    if "/persons/{personId}/associations" in spec["paths"]:
        scopes[SCOPES["flow-6"]] = "flow 6: programme enrolments for analysis"


def _flow6_unsecured(spec: Spec) -> bool:
    op = spec["paths"].get("/persons/{personId}/associations", {}).get("get")
    return op is not None and not op.get("security")


def _secure_flow6(spec: Spec) -> None:
    spec["paths"]["/persons/{personId}/associations"]["get"]["security"] = [
        {"oAuthFlows": [SCOPES["flow-6"]]}
    ]
    _scheme_scopes(spec).setdefault(SCOPES["flow-6"], "flow 6: programme enrolments for analysis")


def _members_put_lacks_person(spec: Spec) -> bool:
    op = spec["paths"].get("/groups/{groupId}/members", {}).get("put")
    return op is not None and any(
        p.get("name") == "personId" and p.get("in") == "path" for p in op.get("parameters", [])
    )


def _move_members_put(spec: Spec) -> None:
    members = spec["paths"]["/groups/{groupId}/members"]
    op = members.pop("put")
    spec["paths"]["/groups/{groupId}/members/{personId}"] = {"put": op}


def _documents_lack_flow_1_5(spec: Spec) -> bool:
    op = spec["paths"].get("/documents/{documentId}", {}).get("get")
    if op is None:
        return False
    scopes = {s for req in op.get("security") or [] for s in req.get("oAuthFlows", [])}
    return SCOPES["flow-1-5"] not in scopes


def _allow_documents_under_flow_1_5(spec: Spec) -> None:
    op = spec["paths"]["/documents/{documentId}"]["get"]
    op["security"] = [{"oAuthFlows": [SCOPES["flow-1-5"], SCOPES["flow-2-3-4"]]}]


_COMPONENT_FILTERS = ("componentType", "licensed", "since")


def _components_lack_filters(spec: Spec) -> bool:
    op = spec["paths"].get("/components", {}).get("get")
    if op is None:
        return False
    names = {p.get("name") for p in op.get("parameters", [])}
    return not set(_COMPONENT_FILTERS) <= names


def _add_component_filters(spec: Spec) -> None:
    op = spec["paths"]["/components"]["get"]
    params = list(op.get("parameters", []))
    names = {p.get("name") for p in params}
    wanted = {
        "componentType": {"type": "string", "example": "test"},
        "licensed": {"type": "boolean"},
        "since": {"type": "string", "format": "date"},
    }
    for name, schema in wanted.items():
        if name not in names:
            params.append({"name": name, "in": "query", "required": False, "schema": schema})
    op["parameters"] = params


OVERLAYS: tuple[Overlay, ...] = (
    Overlay(
        "declare-flow-scopes",
        "securitySchemes declares the per-flow scopes the operations use",
        "the file declares only nl-test-admin-flow; its operations require nl-test-admin-flow-0, "
        "-flow-1-5 and -flow-2-3-4 (specification text, 'Endpoints per role')",
        _declares_only_generic_scope,
        _declare_flow_scopes,
    ),
    Overlay(
        "secure-flow-6",
        "GET /persons/{personId}/associations requires nl-test-admin-flow-6",
        "the file gives the flow 6 operation no security and never names nl-test-admin-flow-6",
        _flow6_unsecured,
        _secure_flow6,
    ),
    Overlay(
        "group-member-path",
        "PUT /groups/{groupId}/members/{personId}",
        "the file declares a personId path parameter its template /groups/{groupId}/members lacks; "
        "the text says /groups/{groupId}/members/{personId}",
        _members_put_lacks_person,
        _move_members_put,
    ),
    Overlay(
        "documents-flow-1-5",
        "GET /documents/{documentId} is also allowed under nl-test-admin-flow-1-5",
        "the file scopes it to flow-2-3-4 only; the text lets the SIS fetch documents under flow-1-5",
        _documents_lack_flow_1_5,
        _allow_documents_under_flow_1_5,
    ),
    Overlay(
        "component-filters",
        "GET /components accepts componentType, licensed and since",
        "doc/flow0.md documents these filters; the file's listComponents lacks them",
        _components_lack_filters,
        _add_component_filters,
    ),
)
# Which versions each overlay is considered for. The scope, path and documents defects are
# present in every published file and contradict every version's text alike; the flow 6 and
# component filter corrections are checked against the 1.0.1 text only.
OVERLAY_VERSIONS: dict[str, frozenset[str]] = {
    "declare-flow-scopes": frozenset(PROFILE_FILES),
    "secure-flow-6": frozenset({"1.0.1"}),
    "group-member-path": frozenset(PROFILE_FILES),
    "documents-flow-1-5": frozenset(PROFILE_FILES),
    "component-filters": frozenset({"1.0.1"}),
}


@dataclass(slots=True)
class Profile:
    """One OKE version's profile, with the overlays applied to it."""

    version: str
    file: str
    spec: Spec
    overlays: tuple[str, ...]
    _cache: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        op = self.spec["paths"].get(path, {}).get(method.lower())
        return op if isinstance(op, dict) else None

    def scopes(self, method: str, path: str) -> frozenset[str]:
        """The OAuth scopes that may call an operation (empty: no scope needed)."""
        op = self.operation(method, path)
        if op is None:
            return frozenset()
        return frozenset(s for req in op.get("security") or [] for s in req.get("oAuthFlows", []))

    def response_schema(self, method: str, path: str, status: str = "200") -> Any:
        """The schema of an operation's response, or None when the profile defines none."""
        key = (method.lower(), path, status)
        if key not in self._cache:
            op = self.operation(method, path) or {}
            response = op.get("responses", {}).get(status) or {}
            content = response.get("content") or {}
            media = content.get("application/json") or content.get("application/problem+json")
            if media is None and content:
                media = next(iter(content.values()))
            self._cache[key] = (media or {}).get("schema")
        return self._cache[key]

    def media_types(self, method: str, path: str, status: str = "200") -> list[str]:
        """The media types the profile declares for an answer (empty: it declares none)."""
        op = self.operation(method, path) or {}
        response = op.get("responses", {}).get(status) or {}
        return [str(m) for m in response.get("content") or {}]

    def error_schema(self, method: str, path: str, status: int) -> Any:
        """The problem schema an error answer must satisfy: the operation's own for that
        status, else its 400's; an operation declaring neither gets the catalogue's 400 (every
        version declares one, and every version's problems are alike)."""
        for key in (str(status), "400"):
            schema = self.response_schema(method, path, key)
            if schema is not None:
                return schema
        return self.response_schema("get", "/components", "400")

    def query_parameters(self, method: str, path: str) -> dict[str, Any]:
        """The operation's query parameters: name → schema."""
        op = self.operation(method, path) or {}
        out: dict[str, Any] = {}
        for param in op.get("parameters") or []:
            if isinstance(param, dict) and param.get("in") == "query" and isinstance(param.get("name"), str):
                schema = param.get("schema")
                out[param["name"]] = schema if isinstance(schema, dict) else {}
        return out

    def request_schema(self, method: str, path: str) -> Any:
        op = self.operation(method, path) or {}
        content = (op.get("requestBody") or {}).get("content") or {}
        media = next(iter(content.values()), None)
        return (media or {}).get("schema")

    @property
    def has_service(self) -> bool:
        return self.operation("get", "/") is not None


def _pointer(spec: Spec, ref: str) -> Any:
    target: Any = spec
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def inline_refs(spec: Spec) -> None:
    """Replace every local ``$ref`` by the object it points at, in place.

    The 0.9.4 file was published unbundled (with ``$ref``s) where the others use anchors;
    inlining gives every version the same shape, cycles included, so one walker serves all."""

    def target(value: Any) -> Any:
        hops = 0
        while isinstance(value, dict) and str(value.get("$ref", "")).startswith("#/"):
            value = _pointer(spec, value["$ref"])
            hops += 1
            if hops > 50:
                raise ProfileError("a $ref chain in a vendored profile does not end")
        return value

    seen: set[int] = set()
    stack: list[Any] = [spec]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            for key, value in node.items():
                resolved = target(value)
                if resolved is not value:
                    node[key] = resolved
                if isinstance(resolved, (dict, list)):
                    stack.append(resolved)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                resolved = target(value)
                if resolved is not value:
                    node[i] = resolved
                if isinstance(resolved, (dict, list)):
                    stack.append(resolved)


def read_vendor(name: str) -> bytes:
    try:
        return (resources.files("okectl.verify") / "vendor" / name).read_bytes()
    except OSError as exc:
        raise ProfileError(f"cannot read the vendored file {name}: {exc.strerror or exc}") from None


def _loader() -> type[yaml.SafeLoader]:
    # The C loader is about five times faster on these 200–400 kB files.
    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


_lock = threading.Lock()


@cache
def _load(version: str) -> Profile:
    name = PROFILE_FILES[version]
    spec = yaml.load(read_vendor("oke/" + name), Loader=_loader())
    if not isinstance(spec, dict) or "paths" not in spec:
        raise ProfileError(f"the vendored profile {name} is not an OpenAPI document")
    inline_refs(spec)
    applied: list[str] = []
    for overlay in OVERLAYS:
        if version in OVERLAY_VERSIONS[overlay.key] and overlay.present(spec):
            overlay.apply(spec)
            applied.append(overlay.key)
    return Profile(version, name, spec, tuple(applied))


def profile(version: str) -> Profile:
    """The profile of an OKE version, loaded once per process."""
    if version not in PROFILE_FILES:
        raise ProfileError(
            f"no published OKE profile for version {version!r}; known: {', '.join(PROFILE_FILES)}"
        )
    with _lock:
        return _load(version)


def overlay(key: str) -> Overlay:
    return next(o for o in OVERLAYS if o.key == key)


@cache
def v6_service_schema() -> dict[str, Any]:
    """The OEAPI v6 ``Service`` schema (JSON Schema 2020-12 types, as OpenAPI 3.1).

    Its two references point at files outside the one vendored (``Ext.yaml`` and the
    expandable-objects enumeration); they are replaced by permissive schemas at load."""
    schema = yaml.load(read_vendor(V6_SERVICE_FILE), Loader=_loader())
    props = schema["properties"]
    props["ext"] = {}
    props["supportedExpands"]["items"]["properties"]["expandableObjects"]["items"] = {"type": "string"}
    result: dict[str, Any] = schema
    return result
