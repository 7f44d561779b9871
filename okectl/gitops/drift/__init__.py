"""Drift: what a supplier changed that the configuration did not, grouped by cause.

``detect`` tells drift from changes the configuration made (``find_drift``) and groups it
by cause across schools; ``accept`` writes what the supplier has into the YAML on a
branch (``accept_drift``). Healing is applying, so it is the command's
(``okectl.commands.drift``), through apply and every guard apply keeps.
"""
