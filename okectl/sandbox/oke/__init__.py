"""The OKE endpoints each sandbox environment serves at its ``base_url``.

``/ooapi/{supplier}/{school}/{environment}/`` is one supplier's OKE service for one school:
the operations of the environment's functional role (its ``function``; every role when it
has none) for its enabled flows (every flow when it lists none), at its OKE version, with
synthetic data that is valid against that version's published profile
(``data/oke-<version>.json``, built from the profiles by ``tools/synth.py``).

- ``POST {base}/oauth/token``: OAuth 2.0 client credentials with the supplier's sandbox
  credentials (those of the administration API, seeing the school), granting the requested
  OKE flow scopes. ``GET /`` takes such a token or an administration token.
- OOAPI v5 errors are ``application/problem+json`` with ``status`` as a string; an
  environment on OEAPI v6 negotiates by ``Accept`` header and answers RFC 9457 problems.
- PUT creates (201) or replaces (200) and refuses a body whose id differs from the path; PATCH
  carries no id; a result for a cancelled association is accepted with 200. DELETE of what a
  client created is a sandbox extension (OKE has none), so checks can clean up after them.

Conformance faults are set per environment at run time (``/_sandbox/oke/faults``), and every
request is logged per environment (``/_sandbox/oke/requests``) so tests can prove what did
or did not reach an environment.
"""

from okectl.sandbox.oke.endpoints import OkeEndpoints
from okectl.sandbox.oke.faults import OkeFaults

__all__ = ["OkeEndpoints", "OkeFaults"]
