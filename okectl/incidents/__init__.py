"""Incidents: what fails at a supplier now, derived afresh from what the repository and the
run know (the verification record, the apply journals, the change requests), one per
supplier, subject and check, under a stable key.

``derive.derive_incidents`` reads the sources; ``derive.open_incidents`` answers "is
anything open for this supplier (and environment)?"; ``model`` holds the data and ``text``
its Markdown, both free of I/O. Keeping them open or closed at the forge is
``gitops.incidents``'s.
"""
