"""The ``request-age`` rule kind: change requests a supplier has not confirmed in time."""

from __future__ import annotations

from okectl.policy.facts import Loc
from okectl.policy.rules.base import Check


class RequestAge(Check):
    """An open change request past its supplier's ``support.sla_days`` is a warning; past
    ``support.escalate_after_days`` it is a finding of the rule's own severity (an error
    by default, so apply stops until it is chased or waived)."""

    kind = "request-age"
    summary = "Change requests awaiting a supplier past its SLA (warning) or escalation (the rule's severity)"

    def finish(self) -> None:
        from okectl.requests.tracking import open_requests

        state = self.out.state
        for item in open_requests(state.root, state, today=self.out.today):
            status = item.request.status
            sid, code = status.supplier, status.school
            if item.standing == "awaiting" or not (self.selects_school(code) and self.selects_supplier(sid)):
                continue
            school = state.schools.get(code)
            loc: Loc
            if school is not None and sid in school.connections:
                loc = ("school", code, ("connections", sid), True)
            else:
                loc = ("supplier", sid, ("support",), True)
            escalated = item.standing == "escalated"
            rule = self.rule if escalated else self.rule.model_copy(update={"severity": "warning"})
            limit = item.escalate_after_days if escalated else item.sla_days
            what = "escalate it to the supplier" if escalated else "chase the support desk"
            self.out.emit(
                rule,
                f"{sid}/{code}",
                loc,
                f"change request {status.id} has waited {item.age_days} days for confirmation "
                f"(since {item.since}), past {limit} days: {what}, or record its answer with "
                "okectl requests confirm|reject",
                school=code,
                supplier=sid,
            )
