"""How long a change request has waited at a supplier's support desk, against the
supplier's support terms (``support.sla_days``, ``support.escalate_after_days``).

The planner, the ``request-age`` rule kind, incidents and the views all weigh a request's
wait the same way, so the one reading of it lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Standing = Literal["awaiting", "overdue", "escalated"]


@dataclass(frozen=True)
class Wait:
    # Since when the supplier is waiting to act: the request, or its reopening.
    since: date
    age_days: int
    sla_days: int
    escalate_after_days: int

    @property
    def standing(self) -> Standing:
        if self.age_days > self.escalate_after_days:
            return "escalated"
        if self.age_days > self.sla_days:
            return "overdue"
        return "awaiting"
