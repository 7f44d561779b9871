"""The ``freeze`` rule kind: configuration that changes during a freeze window.

A window (``policies/calendar.yaml``) says what is frozen; this rule reports a frozen
environment whose configuration changes while the window lasts, at the environment's
entry, so a pull request that touches one is flagged in code scanning and a waiver can
let a planned exception through (plan then leaves the change unmarked, and says which
waiver let it through). What counts as a change is the caller's to say (``changed``): a
plan's changes, or the difference git shows since the window began; without it the rule
says nothing, since a state alone is never frozen.
"""

from __future__ import annotations

from datetime import timedelta

from okectl.config.calendar import frozen
from okectl.policy.facts import EnvView
from okectl.policy.rules.base import Check


class FreezeCheck(Check):
    kind = "freeze"
    summary = (
        "A frozen environment's configuration does not change during a freeze window "
        "(policies/calendar.yaml)"
    )

    def environment(self, env: EnvView) -> None:
        changed = self.out.changed
        if changed is None:
            return
        freeze = frozen(self.out.state.calendar, env.supplier, env.code, env.type, self.out.today)
        if freeze is None:
            return
        envs = changed(freeze.window.start)
        if envs is None or env.address not in envs:
            return
        last = freeze.thaw - timedelta(days=1)
        self.env_finding(
            env,
            env.entry(),
            f"{env.address} changes inside {freeze.describe()}: apply refuses to write it before "
            f"{freeze.thaw} (frozen through {last}) unless it is waived, or broken open with "
            "apply --break-glass --reason TEXT",
        )
