"""Providers: how okectl reads and writes a supplier's administration API."""

import sys

# httpx imports its own command-line client on import when rich is installed (it is: the
# policy output uses it), which pulls in pygments and rich's console: ~40 ms of every plan
# and apply for a program okectl never runs. A None entry makes that one import fail, and
# httpx then stands in a stub for its `main`. Must run before the first `import httpx`.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
