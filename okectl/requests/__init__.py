"""Change requests: how okectl manages a supplier whose support desk makes the changes.

For a supplier with ``api.provider: requests`` the actual state is what the supplier
confirmed, recorded in the repository (``state/<supplier>/<school>.yaml``,
:mod:`okectl.config.record`). Apply does not write to such a supplier; it writes one change
request per supplier and school (``requests/<supplier>/<id>/``: ``request.md``,
``request.json``, ``request.eml`` and ``status.yaml``), which is tracked until the supplier
confirms it, by a person (``okectl requests confirm``) or by an observation (an imported
export, or what ``okectl verify --record`` saw an endpoint say: :mod:`okectl.requests.observe`).

The engine's seam (import these names from their modules):

- ``okectl.providers.base.Capability.CHANGE_REQUESTS``: the adapter asks for requests.
- ``okectl.requests.writer.write_change_requests(...)``: apply, per supplier and school.
- ``okectl.requests.tracking.pending_requests(root, ...)``: plan, what is already requested.
- ``okectl.requests.mail.send_requests(...)``: ``apply --send``.
- ``okectl.requests.observe.observe_endpoints(...)``: ``verify --record``.
"""
