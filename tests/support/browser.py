"""A real headless browser for the tests that render HTML: Debian's chromium.

Without it those tests are skipped, so the README's test command passes on a fresh machine;
CI installs it and sets ``OKECTL_REQUIRE_BROWSER=1``, which turns the skip into a failure.
"""

from __future__ import annotations

import shutil

REQUIRE_BROWSER = "OKECTL_REQUIRE_BROWSER"
BROWSER_NAMES = ("chromium", "chromium-browser")


def find_chromium() -> str | None:
    """The chromium executable on PATH, or None."""
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def no_browser_reason() -> str:
    """Why a browser test cannot run here, and how to make it."""
    return (
        f"no browser: none of {', '.join(BROWSER_NAMES)} is on PATH "
        "(install Debian's chromium: apt-get install chromium)"
    )
