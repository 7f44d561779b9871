"""The desired-state model: what may be written in schools/, suppliers/, environments/, policies/.

Models are strict (a number is not silently a version) and forbid unknown fields, so a
typo is an error at its own line instead of a setting that quietly does nothing.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

FunctionalRole = Literal["sis", "tpl", "ta"]
EnvironmentType = Literal["production", "acceptance", "test", "pilot", "chain-test"]
SsoMode = Literal["required", "optional", "off"]
Federation = Literal["surfconext", "entree"]
EnvironmentStatus = Literal["live", "planned", "retiring"]

Flow = Annotated[int, Field(ge=0, le=6, description="OKE flow number, 0 to 6")]

# By pattern: what a value that does not match it is not, and how to write it. The pattern
# means little to a reader, and a description is for the schema, where "a quoted string" is
# advice about YAML: said of "1.O", which is quoted, it sends the reader the wrong way.
NOT_MATCHING: dict[str, str] = {}


def _shaped(pattern: str, problem: str, **constraints: Any) -> StringConstraints:
    NOT_MATCHING[pattern] = problem
    return StringConstraints(pattern=pattern, **constraints)


Version = Annotated[
    str,
    # [0-9], not \d: the pattern engine's \d takes any script's digits ("١.٠").
    _shaped(r"^[0-9]+\.[0-9]+(\.[0-9]+)?$", 'not a version: write digits, e.g. "1.0"'),
    Field(description='A version written as a quoted string, e.g. "1.0.1"'),
]
Slug = Annotated[
    str,
    _shaped(
        r"^[a-z0-9][a-z0-9-]{0,62}$",
        "not a name okectl accepts: write lower-case letters, digits and dashes, e.g. delta-toets",
    ),
    Field(description="Lower-case letters, digits and dashes"),
]
SchoolCode = Annotated[
    str,
    _shaped(
        r"^[0-9]{2}[A-Z]{2}$",
        "not an institution code (BRIN): write two digits and two capitals, e.g. 25BE",
    ),
    Field(description="Institution code (BRIN): two digits and two capitals, e.g. 25BE"),
]
Domain = Annotated[
    str,
    _shaped(
        r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        "not a domain name: write it in lower case, e.g. school.nl",
        max_length=253,
    ),
    Field(description="A domain name in lower case, e.g. school.nl"),
]
Email = Annotated[
    str,
    _shaped(
        # One plain address: no list (","), display name ("<", '"') or route (":", ";").
        r'^[^@\s,;:<>"()\[\]\\]+@[^@\s,;:<>"()\[\]\\]+\.[^@\s,;:<>"()\[\]\\]+$',
        "not an e-mail address: write name@domain, e.g. support@school.nl",
    ),
]

HttpsUrl = Annotated[
    str,
    _shaped(
        r"^https://[^\s]+$",
        "not an https address: write https://…, e.g. https://support.example.nl",
        max_length=2048,
    ),
]

OKE_SCOPES: dict[str, frozenset[int]] = {
    "nl-test-admin-flow-0": frozenset({0}),
    "nl-test-admin-flow-1-5": frozenset({1, 5}),
    "nl-test-admin-flow-2-3-4": frozenset({2, 3, 4}),
    "nl-test-admin-flow-6": frozenset({6}),
}


def _iso_date(value: Any) -> Any:
    # YAML reads an unquoted date as a date; a quoted one is still a date to a reader.
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("date_format", "expected a date written as YYYY-MM-DD") from None
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SecretRef(Model):
    """Where a secret lives. The value itself never appears in the repository."""

    env: (
        Annotated[
            str,
            _shaped(
                r"^[A-Za-z_][A-Za-z0-9_]*$",
                "not a variable name: write letters, digits and _, e.g. DELTA_SECRET",
            ),
        ]
        | None
    ) = None
    file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_literal(cls, value: Any) -> Any:
        # Anything but a mapping is a value typed in where a reference belongs (a number
        # or a list too), and must not be echoed back in the error message.
        if value is not None and not isinstance(value, dict):
            raise PydanticCustomError(
                "literal_secret",
                "a secret must not be written in the repository; "
                "use a reference: {env: VARIABLE} or {file: PATH}",
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise PydanticCustomError(
                "secret_ref", "give exactly one of env or file, e.g. {env: DELTA_SECRET}"
            )
        return self

    def describe(self) -> str:
        return f"env:{self.env}" if self.env is not None else f"file:{self.file}"


# --- suppliers -------------------------------------------------------------------------


class ApiLimits(Model):
    concurrency: Annotated[int, Field(ge=1, le=256)] = 8
    requests_per_second: Annotated[float, Field(gt=0, le=10_000)] = 20.0
    max_answer_bytes: Annotated[int, Field(ge=4096, le=1 << 30)] = Field(
        default=16 << 20,
        description="The most okectl reads of one answer, as received and once decompressed "
        "(bytes; default 16 MiB); a larger answer is an error",
    )
    max_retry_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=60.0,
        description="How long one call may keep retrying (seconds); each attempt also has "
        "api.timeout_seconds in all",
    )


class ApiAuth(Model):
    token_url: str
    client_id: str
    client_secret: SecretRef


DEFAULT_TIMEOUT_SECONDS = 10.0
# Said of a supplier without an api wherever something would need one.
VERIFIED_ONLY = "has no api: it is verified only, and plan and apply leave it alone"

# The adapters that come with okectl and take no settings of their own.
PLAIN_ADAPTERS = frozenset({"http", "sandbox"})


class SupplierApi(Model):
    provider: Slug = Field(
        default="sandbox",
        description="`sandbox` (the embedded reference supplier), `http`, or a registered adapter",
    )
    url: str | None = None
    auth: ApiAuth | None = None
    limits: ApiLimits = ApiLimits()
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = Field(
        default=DEFAULT_TIMEOUT_SECONDS,
        description="The time one request may take in all, from connecting to the last byte of "
        "its answer (seconds)",
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="The adapter's own settings, checked by the model the adapter declares",
    )


HttpUrl = Annotated[
    str,
    _shaped(
        r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#@]+(/[^\s?#]*)?$",
        "not an http(s) URL okectl accepts: write https://host/path, without query, fragment or user, "
        "e.g. https://oke.supplier.example/v5",
        max_length=2048,
    ),
    Field(description="An http(s) URL without query, fragment or user information"),
]
_LOOPBACK_HOST = re.compile(r"^(localhost|127(\.[0-9]{1,3}){3}|\[::1\])(:[0-9]+)?$", re.IGNORECASE)


class VerifyClient(Model):
    """How okectl verify reaches the supplier's OKE endpoints, whether or not it has an
    administration API: its token endpoint and the verification client it granted the
    OKE flow scopes."""

    token_url: HttpUrl
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    client_secret: SecretRef
    ca_file: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = Field(
        default=None,
        description="A private CA's certificates (PEM), relative to the repository, trusted besides "
        "the standard ones; certificates are always verified",
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] | None = Field(
        default=None, description="How long verify waits for one whole answer (default: api's, or 10)"
    )

    @model_validator(mode="after")
    def _secret_over_tls(self) -> VerifyClient:
        scheme, _, rest = self.token_url.partition("://")
        if scheme.lower() != "https" and not _LOOPBACK_HOST.match(rest.split("/", 1)[0]):
            raise PydanticCustomError(
                "token_url_https",
                "token_url must be https: the client secret is sent to it (http only on a loopback address)",
            )
        return self


class Dpia(Model):
    status: Literal["approved", "pending", "rejected", "none"]
    date: IsoDate | None = None
    covers_flow_6: bool = Field(
        default=False, description="Whether the DPIA covers flow 6 (analysis of enrolments)"
    )


class Privacy(Model):
    processing_agreement: str | None = Field(
        default=None, description="e.g. model-4.0 (Model Verwerkersovereenkomst 4.0)"
    )
    dpia: Dpia | None = None


class Certification(Model):
    oke: Version
    status: Literal["certified", "in-progress", "expired"]
    date: IsoDate | None = None


Language = Literal["nl", "en"]


class Support(Model):
    email: Email | None = Field(
        default=None, description="The support desk's address; change requests are addressed to it"
    )
    url: str | None = None
    phone: str | None = None
    portal: HttpsUrl | None = Field(
        default=None, description="The support desk's portal or change form, an https:// URL"
    )
    sla_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=10, description="Days the support desk takes to carry out a change request; older is overdue"
    )
    escalate_after_days: Annotated[int, Field(ge=1, le=730)] | None = Field(
        default=None,
        description="Days after which an unconfirmed change request is escalated (default: twice sla_days)",
    )
    language: Language = Field(
        default="nl", description="The language change requests are written in: nl or en"
    )

    @field_validator("escalate_after_days")
    @classmethod
    def _not_before_sla(cls, value: int | None, info: ValidationInfo) -> int | None:
        sla = info.data.get("sla_days")
        if value is not None and isinstance(sla, int) and value < sla:
            raise PydanticCustomError(
                "escalation_before_sla",
                "escalate_after_days ({value}) is before sla_days ({sla}); escalate after the SLA has passed",
                {"value": value, "sla": sla},
            )
        return value

    @property
    def escalation_days(self) -> int:
        return self.escalate_after_days if self.escalate_after_days is not None else 2 * self.sla_days


class Safety(Model):
    max_delete_fraction: Annotated[float, Field(ge=0, le=1)] = 0.25
    min_environments: Annotated[int, Field(ge=0)] = 8


DriftMode = Literal["detect", "heal", "accept"]
DRIFT_MODES: tuple[DriftMode, ...] = ("detect", "heal", "accept")
DRIFT_HELP = (
    "write detect, heal or accept, or one per resource kind, e.g. "
    "{environment: heal, client: detect, role: accept}"
)


class DriftModes(Model):
    """What okectl drift does about drift at a supplier, per resource kind: ``detect``
    reports it, ``heal`` writes the configuration back (through apply, within every safety
    limit), ``accept`` writes what the supplier has into the YAML on a branch."""

    environment: DriftMode = "detect"
    client: DriftMode = "detect"
    role: DriftMode = "detect"


# The YAML may give one mode for every kind (a word) or a mapping per kind.
_DRIFT_SCHEMA: dict[str, Any] = {
    "description": "What okectl drift does about drift here: detect (report), heal (apply the "
    "configuration again) or accept (write what the supplier has into the YAML, on a branch); "
    "one word for every kind, or a mapping per kind (environment, client, role). Default: detect",
    "default": "detect",
    "anyOf": [
        {"type": "string", "enum": list(DRIFT_MODES)},
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                kind: {"type": "string", "enum": list(DRIFT_MODES), "default": "detect"}
                for kind in ("environment", "client", "role")
            },
        },
    ],
}


class Supplier(Model):
    id: Slug
    name: str
    roles: Annotated[list[FunctionalRole], Field(min_length=1)]
    flows: Annotated[list[Flow], Field(min_length=1)]
    oke_versions: list[Version] = Field(
        default_factory=list, description="OKE versions the supplier's product supports"
    )
    api: SupplierApi | None = Field(
        default=None,
        description="How okectl changes this supplier's configuration (an adapter: `sandbox`, "
        "`http`, `requests`, or a registered one). Without it the supplier is verified only: "
        "plan and apply leave its resources alone",
    )
    verify: VerifyClient | None = Field(
        default=None,
        description="The OKE token endpoint and verification client okectl verify uses; without it, "
        "verify asks the administration API's adapter",
    )
    drift: Annotated[DriftModes, WithJsonSchema(_DRIFT_SCHEMA)] = DriftModes()
    role_names: dict[str, str] = Field(
        default_factory=dict, description="Canonical role → the supplier's name for it"
    )
    privacy: Privacy = Privacy()
    certification: list[Certification] = Field(default_factory=list)
    support: Support = Support()
    safety: Safety = Safety()

    @field_validator("drift", mode="before")
    @classmethod
    def _one_mode_for_every_kind(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value not in DRIFT_MODES:
                raise PydanticCustomError(
                    "drift_mode", "'{value}' is not a drift mode; " + DRIFT_HELP, {"value": value}
                )
            return {"environment": value, "client": value, "role": value}
        if not isinstance(value, dict | DriftModes):
            raise PydanticCustomError("drift_mode", "not a drift mode; " + DRIFT_HELP)
        return value

    @field_validator("drift")
    @classmethod
    def _acting_needs_an_api(cls, value: DriftModes, info: ValidationInfo) -> DriftModes:
        acting = sorted({m for m in (value.environment, value.client, value.role) if m != "detect"})
        if acting and "api" in info.data and info.data["api"] is None:
            raise PydanticCustomError(
                "drift_without_api",
                "{modes} {need} an api; a supplier without one is verified only, so okectl "
                "finds no drift there to act on",
                {"modes": " and ".join(acting), "need": "needs" if len(acting) == 1 else "need"},
            )
        return value

    def drift_mode(self, kind: str) -> DriftMode:
        """What okectl drift does about drift of a resource of ``kind`` here."""
        mode: DriftMode = getattr(self.drift, kind)
        return mode

    @property
    def managed(self) -> bool:
        """Whether plan and apply manage its configuration; without an api it is verified only."""
        return self.api is not None

    @property
    def limits(self) -> ApiLimits:
        """What okectl may send it, over any channel (verify's requests too)."""
        return self.api.limits if self.api is not None else ApiLimits()

    @property
    def timeout_seconds(self) -> float:
        return self.api.timeout_seconds if self.api is not None else DEFAULT_TIMEOUT_SECONDS


# --- environment profiles --------------------------------------------------------------


class ProfileEnvironment(Model):
    type: EnvironmentType
    sso: SsoMode = "required"
    status: EnvironmentStatus = "live"
    protect: bool | None = Field(
        default=None, description="Refuse to delete it; defaults to true for production"
    )


class Profile(Model):
    id: Slug
    name: str | None = None
    description: str | None = None
    environments: Annotated[dict[Slug, ProfileEnvironment], Field(min_length=1)]


# --- schools ---------------------------------------------------------------------------


class Client(Model):
    scopes: Annotated[list[str], Field(min_length=1)]
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    secret: SecretRef | None = None


class EnvironmentOverride(Model):
    type: EnvironmentType | None = Field(
        default=None, description="Required for an environment that is not in the profile"
    )
    oke_version: Version | None = None
    flows: list[Flow] | None = None
    sso: SsoMode | None = None
    status: EnvironmentStatus | None = None
    protect: bool | None = None
    base_url: HttpUrl | None = Field(
        default=None,
        description="an http(s) URL: where this environment's OKE endpoint is (verify looks there; "
        "never written to the supplier; wins over what an administration API reports)",
    )
    absent: bool = Field(
        default=False,
        description="Remove this environment at the supplier; a protected one also needs protect: false",
    )


class Connection(Model):
    profile: Slug | None = None
    function: FunctionalRole | None = Field(
        default=None,
        description="Which functional role the supplier plays here; needed when it plays several",
    )
    oke_version: Version
    flows: Annotated[list[Flow], Field(min_length=1)]
    clients: dict[str, Client] = Field(default_factory=dict)
    environments: dict[Slug, EnvironmentOverride] = Field(default_factory=dict)


class School(Model):
    code: SchoolCode
    name: str
    federation: Federation
    schac_home: Domain
    systems: dict[FunctionalRole, Slug] = Field(
        default_factory=dict, description="Functional role → the supplier whose product plays it"
    )
    connections: dict[Slug, Connection] = Field(default_factory=dict)
    roles: dict[str, list[str]] = Field(
        default_factory=dict, description="Canonical role → the school's groups that hold it"
    )


# --- policies --------------------------------------------------------------------------


class CatalogueRole(Model):
    description: str
    oke_role: Literal["student", "coordinator", "invigilator", "assessor", "guest"] | None = None
    required_for: list[FunctionalRole] = Field(
        default_factory=list,
        description="Suppliers playing these functional roles must map this role",
    )


class SeparationOfDuties(Model):
    roles: Annotated[list[str], Field(min_length=2, max_length=2)]
    reason: str


class RoleCatalogue(Model):
    roles: Annotated[dict[Slug, CatalogueRole], Field(min_length=1)]
    separation_of_duties: list[SeparationOfDuties] = Field(default_factory=list)


class OkeVersion(Model):
    ooapi: Version
    status: Literal["final", "concept", "draft", "outdated"]
    released: IsoDate | None = None
    end_of_support: IsoDate | None = None


class VersionCatalogue(Model):
    oke_versions: Annotated[dict[Version, OkeVersion], Field(min_length=1)]
