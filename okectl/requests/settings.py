"""``api.settings`` of a supplier managed by change requests (``api.provider: requests``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from okectl.config.models import Email, Model, Supplier
from okectl.errors import OkectlError

# What a column of a supplier's export can hold: okectl's name for it. Environment fields
# keep their wire names; sso is split in three, a role's name is role_name.
ExportField = Literal[
    "school",
    "environment",
    "kind",
    "name",
    "type",
    "status",
    "function",
    "oke_version",
    "ooapi_version",
    "flows",
    "sso_mode",
    "sso_federation",
    "sso_schac_home",
    "client_id",
    "scopes",
    "role_name",
    "groups",
]
ListField = frozenset({"flows", "scopes", "groups"})
Header = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Word = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ExportMapping(Model):
    """How to read a supplier's export: one row (CSV) or object (JSON, YAML) per resource."""

    format: Literal["csv", "json", "yaml"] | None = Field(
        default=None, description="The export's format; by default from the file's suffix"
    )
    delimiter: Annotated[str, StringConstraints(min_length=1, max_length=1)] = Field(
        default=",", description="The CSV delimiter (Dutch spreadsheets often write ';')"
    )
    list_separator: Annotated[str, StringConstraints(min_length=1, max_length=1)] = Field(
        default="|", description="What separates the items of flows, scopes and groups in one cell"
    )
    encoding: Literal["utf-8", "utf-8-sig", "cp1252", "latin-1"] = Field(
        default="utf-8", description="The CSV's encoding (cp1252 for older spreadsheet exports)"
    )
    columns: dict[ExportField, Header] = Field(
        default_factory=dict,
        description="okectl field → the export's column header; a field not named here is read from a "
        "column of its own name. Without a kind column every row is an environment",
    )
    values: dict[ExportField, dict[Word, Word]] = Field(
        default_factory=dict,
        description="Per field: the supplier's word → okectl's (e.g. type: {Productie: production})",
    )

    @model_validator(mode="after")
    def _distinct(self) -> ExportMapping:
        if self.delimiter == self.list_separator:
            raise PydanticCustomError(
                "same_separator", "delimiter and list_separator must differ; a cell could not hold a list"
            )
        seen: dict[str, str] = {}
        for field, header in self.columns.items():
            if header in seen:
                raise PydanticCustomError(
                    "same_column",
                    "columns: {a} and {b} both read the column {header!r}",
                    {"a": seen[header], "b": field, "header": header},
                )
            seen[header] = field
        return self

    def header(self, field: str) -> str:
        header: str = self.columns.get(field, field)  # type: ignore[call-overload]
        return header


class RequestsSettings(Model):
    """The settings of ``api.provider: requests``: what a support desk needs besides the
    supplier's ``support`` block (its address, portal, SLA and language)."""

    secret_channel: Annotated[str, StringConstraints(min_length=3, max_length=300)] = Field(
        description="How a client secret is exchanged out of band, never by this e-mail: e.g. "
        "'by phone with the school's application administrator' or 'through the supplier's portal'"
    )
    contact: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = Field(
        default=None, description="Whom the support desk contacts with questions (name, phone)"
    )
    cc: list[Email] = Field(default_factory=list, description="Addresses that get a copy of each request")
    export: ExportMapping = Field(
        default_factory=ExportMapping, description="How to read the supplier's export"
    )


def requests_settings(supplier: Supplier) -> RequestsSettings:
    """The settings of a supplier managed by change requests; one line for any other."""
    api = supplier.api
    if api is None or api.provider != "requests":
        kind = "has no api" if api is None else f"has api.provider {api.provider}"
        raise OkectlError(
            f"supplier {supplier.id} {kind}: it is not managed by change requests (api.provider: requests)"
        )
    return RequestsSettings.model_validate(api.settings)
