"""The files of a change request (``requests/<supplier>/<id>/``): what okectl asked a
supplier's support desk (``request.json``, for a ticket system) and where the request
stands (``status.yaml``: open, confirmed, rejected or cancelled, with its history).

Both are written by okectl and committed, and both are read back as hostile input: a
request folder edited by hand, or planted by a pull request, is checked like every other
file before anything acts on it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationError, model_validator

from okectl.config.models import Email, IsoDate, Language, Model, SchoolCode, Slug
from okectl.config.record import RecordedClient, RecordedEnvironment, RecordedRole, RecordedSecret
from okectl.model.resources import WIRE_FIELDS

REQUESTS_DIR = "requests"
REQUEST_FORMAT_VERSION: Literal[1] = 1
STATUS_SCHEMA_LINE = "# yaml-language-server: $schema=../../../schema/request-status.schema.json"

RequestId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}-[0-9a-z]{4}-[0-9a-f]{10}(-[0-9]{1,3})?$"),
    Field(description="<supplier>-<school>-<digest of the changes>, e.g. delta-toets-25lv-3f2a9c1b7d"),
]
Status = Literal["open", "confirmed", "rejected", "cancelled"]
EventKind = Literal["requested", "sent", "confirmed", "rejected", "cancelled", "reopened", "observed"]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
_NAME = r"[a-z0-9][a-z0-9-]{0,62}"
ResourceAddress = Annotated[
    str,
    StringConstraints(pattern=rf"^{_NAME}/[0-9]{{2}}[A-Z]{{2}}/{_NAME}(/(client|role)/{_NAME})?$"),
    Field(description="supplier/school/environment[/client|role/name]"),
]
# What a requested resource may hold, per kind: the record's model, without provenance or
# secret (a request never holds one).
_AFTER: dict[str, type[BaseModel]] = {
    "environment": RecordedEnvironment,
    "client": RecordedClient,
    "role": RecordedRole,
}


# --- request.json: what was asked ------------------------------------------------------


class RequestedField(Model):
    path: str = Field(description="The field, as a dotted path (sso.mode)")
    before: Any = None
    after: Any = None


class RequestedChange(Model):
    address: ResourceAddress
    kind: Literal["environment", "client", "role"]
    action: Literal["create", "update", "delete"]
    environment: Slug
    name: Slug | None = Field(default=None, description="The client's system or the role, for those kinds")
    fields: list[RequestedField] = Field(
        default_factory=list, description="For an update: each field that changes"
    )
    after: dict[str, Any] | None = Field(
        default=None, description="The whole resource as it should be (no secret); None for a delete"
    )
    secret: Literal["new", "changed"] | None = Field(
        default=None,
        description="A client secret to exchange out of band (never its value): new, or changed",
    )

    @model_validator(mode="after")
    def _consistent(self) -> RequestedChange:
        """The address, kind, environment and name say the same thing, and what is asked
        for is a resource of that kind: a request edited by hand is confirmed into the
        record as it stands, so it is checked before anything reads it."""
        parts = self.address.split("/")
        child = len(parts) == 5
        said = (parts[2], parts[3] if child else "environment", parts[4] if child else None)
        if said != (self.environment, self.kind, self.name):
            raise ValueError(f"the address {self.address} is not the {self.kind} this change names")
        if (self.after is None) != (self.action == "delete"):
            raise ValueError("a delete asks for no values (after), a create or update for all of them")
        if self.after is not None:
            extra = sorted(set(self.after) - set(WIRE_FIELDS[self.kind]))
            if extra:
                raise ValueError(f"after: {', '.join(extra)}: not a field of a {self.kind}")
            try:
                _AFTER[self.kind].model_validate({k: v for k, v in self.after.items() if v is not None})
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in err["loc"])
                raise ValueError(f"after.{where}: {err['msg']}") from None
        return self


class RequestSupplier(Model):
    id: Slug
    name: str
    email: Email | None = None
    portal: str | None = None


class RequestSchool(Model):
    code: SchoolCode
    name: str


class RequestDocument(Model):
    """``request.json``: one change request to one supplier for one school."""

    format_version: Literal[1] = REQUEST_FORMAT_VERSION
    id: RequestId
    repository: str
    language: Language
    requested_on: IsoDate
    supplier: RequestSupplier
    school: RequestSchool
    secret_channel: str | None = Field(
        default=None, description="How client secrets of this request are exchanged, out of band"
    )
    changes: Annotated[list[RequestedChange], Field(min_length=1)]


# --- status.yaml: where it stands ------------------------------------------------------


class Event(Model):
    date: IsoDate
    event: EventKind
    by: Text | None = None
    ref: Text | None = Field(default=None, description="The supplier's ticket reference")
    detail: Text | None = None
    evidence: Text | None = Field(default=None, description="The evidence file, in the request's folder")


class RequestStatus(Model):
    """``status.yaml``: where a change request stands, and how it got there."""

    id: RequestId
    supplier: Slug
    school: SchoolCode
    status: Status
    requested_on: IsoDate
    ticket: Text | None = Field(default=None, description="The supplier's ticket reference, once known")
    secrets: dict[str, RecordedSecret] = Field(
        default_factory=dict,
        description="Per client address: the secret reference and a salted digest of the value to exchange",
    )
    history: list[Event] = Field(default_factory=list)
