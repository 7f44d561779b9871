"""What day it is for policies: waiver expiry, end of support, release dates.

``OKECTL_TODAY=YYYY-MM-DD`` evaluates as of another day: to preview what a waiver's
expiry or a version's end of support will break, or to make a run reproducible.
"""

from __future__ import annotations

import os
from datetime import date

from okectl.errors import OkectlError

TODAY_ENV = "OKECTL_TODAY"


def today() -> date:
    value = os.environ.get(TODAY_ENV, "").strip()
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise OkectlError(f"{TODAY_ENV}={value!r} is not a date; use YYYY-MM-DD or unset it") from None
