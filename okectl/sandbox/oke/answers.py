"""The shapes of the OKE endpoints' answers: problems, OAuth errors, request bodies, merge patch."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

PROBLEM = "application/problem+json"
V6_MEDIA = "application/vnd.oeapi+json"


class OkeProblem(Exception):
    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}


class Answer(Exception):
    """A complete response to send as it is (a 406 of version negotiation)."""

    def __init__(self, response: Response) -> None:
        super().__init__("answer")
        self.response = response


def oauth_error(status: int, error: str, description: str) -> Response:
    return Response(
        json.dumps({"error": error, "error_description": description}),
        status_code=status,
        media_type="application/json",
    )


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise OkeProblem(400, "Bad Request", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise OkeProblem(400, "Bad Request", "the body is not a JSON object")
    return body


def merge(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out
