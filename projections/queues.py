"""Work queues (待办): what needs doing as of a date, item by item, from the projections' tables.

Each queue kind (``QUEUES``) names its Chinese and English title, the record an item concerns
and the command that clears it. The items are read in one snapshot (``read_snapshot``) from:

- ``rcv_items`` (projection ``receivables``) joined to ``ct_contracts`` (projection ``contracts``):
  ``payment_due`` (outstanding, due within ``within_days`` of ``as_of``) and ``payment_overdue``
  (outstanding, due before ``as_of``);
- ``dist_lines``, ``dist_self_lines`` and ``dist_self_payments`` (projection ``distribution``):
  ``award_deadline_near`` and ``award_deadline_passed``: the inventors' award lines (a distribution's
  ``inventor_team`` lines, self-implementation award lines) not paid in full whose
  36-month deadline (财税〔2018〕58号) falls within ``within_days`` or has passed;
- ``dist_invention_bonuses`` and ``dist_invention_bonus_payments`` (projection ``distribution``):
  ``invention_bonus_due`` and ``invention_bonus_overdue``: granted patents of service achievements
  whose bonus (专利法实施细则 2023 第92–94条) is neither paid up to the floor nor agreed;
- ``dist_notices`` (projection ``distribution``) joined to ``ct_achievements`` (projection
  ``contracts``, the first owner): ``notice_ended`` (a public notice (公示) of an agreed price whose
  period ended before ``as_of`` and that is not concluded; ``objections`` says how many were raised)
  and ``notice_ending`` (open, ending within ``within_days``);
- ``ct_contracts`` (projection ``contracts``): ``registration_pending`` (signed at least
  ``within_days`` before ``as_of`` and not registered (认定登记)), ``ufpl_trial_ending`` (a
  use-first-pay-later trial ending within ``within_days``) and ``ufpl_trial_ended`` (trial ended
  before ``as_of``, neither converted to paid nor returned, no agreed trigger met) and
  ``registration_correction`` (the registry asked for a correction (补正) on or before ``as_of``
  and neither a registration nor a correction has answered it);
- ``ct_holdings`` (projection ``contracts``): ``equity_decision_missing`` (an equity contribution
  (作价投资) made on or before ``as_of`` whose collective decision (集体决策) is not recorded);
- ``ct_contracts`` with ``rcv_ufpl_triggers`` (projection ``receivables``): ``ufpl_trigger_reached``
  (still in trial although an agreed trigger (an agreed date, the licensee's first revenue, a
  milestone) was met by ``as_of``: payment should start).

Amounts outstanding are as recorded now (a payment recorded is a task done); dates are compared
with ``as_of``. Every value travels as a bind parameter (``Sql``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from projections.queries import Db, Sql, position_of, read_snapshot

READS = ("receivables", "distribution", "contracts")
"""The projections the queues read."""


@dataclass(frozen=True)
class Command:
    operation_id: str
    method: str
    path: str
    """With ``{id}`` for the record's id."""


@dataclass(frozen=True)
class Queue:
    kind: str
    title_zh: str
    title_en: str
    record_kind: str
    commands: tuple[Command, ...]

    @property
    def title(self) -> str:
        return f"{self.title_zh} / {self.title_en}"


_PAY = Command("record_payment", "POST", "/v1/contracts/{id}/payments")
_PAY_AWARD = Command("pay_award", "POST", "/v1/distributions/{id}/payments")
_PAY_SELF = Command("pay_self_implementation_award", "POST", "/v1/self-implementations/{id}/award-payments")
_BONUS = Command("record_invention_bonus", "POST", "/v1/achievements/{id}/invention-bonuses")
_CONCLUDE = Command("conclude_notice", "POST", "/v1/achievements/{id}/notices/conclusion")
_REGISTER = Command("register_contract", "POST", "/v1/contracts/{id}/registration")
_CORRECT = Command("correct_registration", "POST", "/v1/contracts/{id}/registration-corrections")
_DECIDE = Command("record_contribution_decision", "POST", "/v1/equity-holdings/{id}/contribution-decision")
_CONVERT = Command("convert_to_paid", "POST", "/v1/contracts/{id}/conversion")
_RETURN = Command("end_contract", "POST", "/v1/contracts/{id}/end")  # end = return_licence

QUEUES: dict[str, Queue] = {q.kind: q for q in (
    Queue("payment_overdue", "应收款逾期", "payment overdue", "contract", (_PAY,)),
    Queue("payment_due", "应收款即将到期", "payment falling due", "contract", (_PAY,)),
    Queue("award_deadline_passed", "奖励支付期限已过", "award deadline passed", "distribution", (_PAY_AWARD,)),
    Queue("award_deadline_near", "奖励支付期限临近", "award deadline approaching", "distribution", (_PAY_AWARD,)),
    Queue("invention_bonus_overdue", "职务发明奖金逾期", "invention bonus overdue", "achievement", (_BONUS,)),
    Queue("invention_bonus_due", "职务发明奖金待发放", "invention bonus due", "achievement", (_BONUS,)),
    Queue("notice_ended", "公示期满待办结", "public notice ended, to conclude", "achievement", (_CONCLUDE,)),
    Queue("notice_ending", "公示即将期满", "public notice ending", "achievement", (_CONCLUDE,)),
    Queue("registration_pending", "合同已签订未认定登记", "signed contract not registered", "contract",
          (_REGISTER,)),
    Queue("registration_correction", "认定登记待补正", "registration awaiting correction (补正)", "contract",
          (_REGISTER, _CORRECT)),
    Queue("equity_decision_missing", "作价投资缺集体决策记录", "equity contribution without its decision record",
          "equity_holding", (_DECIDE,)),
    Queue("ufpl_trigger_reached", "先用后付付费条件已成就未转付费", "UFPL trigger met, not converted or returned",
          "contract", (_CONVERT, _RETURN)),
    Queue("ufpl_trial_ended", "先用后付试用期届满未转付费或退回", "UFPL trial ended, not converted or returned",
          "contract", (_CONVERT, _RETURN)),
    Queue("ufpl_trial_ending", "先用后付试用期即将届满", "UFPL trial ending", "contract", (_CONVERT, _RETURN)),
)}
QUEUE_KINDS = tuple(QUEUES)
LINKS = {"contract": "/v1/contracts/{id}", "equity_holding": "/v1/equity-holdings/{id}", "distribution": "/v1/distributions/{id}",
         "self_implementation": "/v1/self-implementations/{id}", "achievement": "/v1/achievements/{id}"}
CONTRACT_QUEUES = frozenset({"payment_overdue", "payment_due", "registration_pending", "registration_correction",
                             "ufpl_trigger_reached",
                             "ufpl_trial_ended", "ufpl_trial_ending"})
"""The queues about contracts: the only ones an exchange (operator) has."""


@dataclass(frozen=True)
class Scope:
    """Whose items: ``None`` for both is everything (admin)."""

    institution_id: UUID | None = None
    """An institution: contracts where it is a seller, its distributions, awards and patents."""
    exchange_id: UUID | None = None
    """An exchange: contracts covering an achievement listed on it (contract queues only)."""


def _contracts_of(sql: Sql, scope: Scope, alias: str = "c") -> str:
    """The condition on ``ct_contracts`` (as ``alias``) for the scope's contracts."""
    if scope.institution_id is not None:
        return f"{alias}.seller_ids @> ARRAY[{sql.param(scope.institution_id, 'uuid')}]"  # the GIN index
    if scope.exchange_id is not None:
        return f"{alias}.exchange_ids @> ARRAY[{sql.param(scope.exchange_id, 'uuid')}]"
    return "TRUE"


def _institution_of(sql: Sql, scope: Scope, column: str) -> str:
    """The condition on an institution column for the scope (an exchange has none of these records)."""
    if scope.institution_id is not None:
        return f"{column} = {sql.param(scope.institution_id, 'uuid')}"
    if scope.exchange_id is not None:
        return "FALSE"
    return "TRUE"


def _payments(sql: Sql, scope: Scope, as_of: date, horizon: date, limit: int, overdue: bool) -> str:
    a = sql.param(as_of, "date")
    window = f"i.due_on < {a}" if overdue else f"i.due_on >= {a} AND i.due_on <= {sql.param(horizon, 'date')}"
    return (
        "SELECT i.contract_id AS id, i.item_id, i.kind AS due_kind, i.label, i.amount_fen, i.outstanding_fen, "
        f"i.due_on, i.currency, c.seller_id AS institution_id, ({a} - i.due_on) AS days "
        "FROM rcv_items i JOIN ct_contracts c ON c.contract_id = i.contract_id "
        f"WHERE i.outstanding_fen > 0 AND {window} AND (i.fell_due_on IS NULL OR i.fell_due_on <= {a}) "
        f"AND {_contracts_of(sql, scope)} ORDER BY i.due_on, i.contract_id, i.item_id "
        f"LIMIT {sql.param(limit, 'int')}"
    )


def _awards(sql: Sql, scope: Scope, as_of: date, horizon: date, limit: int, passed: bool) -> str:
    a = sql.param(as_of, "date")
    window = f"deadline_on < {a}" if passed else (
        f"deadline_on >= {a} AND deadline_on <= {sql.param(horizon, 'date')}")
    return (
        "SELECT * FROM ("
        "SELECT 'distribution' AS record_kind, l.distribution_id AS id, l.key AS line, l.inventor, "
        "l.institution_id, l.contract_id, l.allocated_fen, l.paid_fen, l.received_on AS since_on, l.deadline_on "
        f"FROM dist_lines l WHERE l.beneficiary = 'inventor_team' AND l.allocated_fen > l.paid_fen "
        f"AND l.received_on <= {a} "
        f"AND {_institution_of(sql, scope, 'l.institution_id')} "
        "UNION ALL "
        "SELECT 'self_implementation', s.self_implementation_id, s.year::text || ':' || s.inventor, s.inventor, "
        "s.institution_id, NULL::uuid, s.allocated_fen, "
        "coalesce((SELECT sum(p.amount_fen) FROM dist_self_payments p WHERE p.self_implementation_id = "
        "s.self_implementation_id AND p.year = s.year AND p.inventor = s.inventor), 0)::bigint, "
        "s.allocated_on, s.deadline_on FROM dist_self_lines s "
        f"WHERE s.allocated_fen > 0 AND s.allocated_on <= {a} AND {_institution_of(sql, scope, 's.institution_id')}"
        f") x WHERE allocated_fen > paid_fen AND {window} "
        f"ORDER BY deadline_on, id, line LIMIT {sql.param(limit, 'int')}"
    )


def _bonuses(sql: Sql, scope: Scope, as_of: date, horizon: date, limit: int, overdue: bool) -> str:
    a = sql.param(as_of, "date")
    window = f"b.deadline_on < {a}" if overdue else (
        f"b.deadline_on >= {a} AND b.deadline_on <= {sql.param(horizon, 'date')}")
    return (
        "SELECT b.achievement_id AS id, b.institution_id, b.ip_type, b.granted_on, b.deadline_on, b.floor_fen, "
        "coalesce(p.paid, 0)::bigint AS paid_fen FROM dist_invention_bonuses b "
        "LEFT JOIN (SELECT achievement_id, sum(amount_fen) AS paid, bool_or(agreed) AS agreed "
        "FROM dist_invention_bonus_payments GROUP BY 1) p USING (achievement_id) "
        f"WHERE b.service AND b.granted_on <= {a} AND {window} "
        "AND coalesce(p.paid, 0) < b.floor_fen AND NOT coalesce(p.agreed, false) "
        f"AND {_institution_of(sql, scope, 'b.institution_id')} "
        f"ORDER BY b.deadline_on, b.achievement_id LIMIT {sql.param(limit, 'int')}"
    )


def _notices(sql: Sql, scope: Scope, as_of: date, horizon: date, limit: int, ended: bool) -> str:
    a = sql.param(as_of, "date")
    window = f"n.ends_on < {a}" if ended else (
        f"n.ends_on >= {a} AND n.ends_on <= {sql.param(horizon, 'date')}")
    return (
        "SELECT n.achievement_id AS id, n.seq, n.starts_on, n.ends_on, n.agreed_price_fen, n.currency, "
        "n.objections, a.owner_id AS institution_id FROM dist_notices n "
        "LEFT JOIN ct_achievements a ON a.achievement_id = n.achievement_id "
        f"WHERE n.outcome IS NULL AND n.starts_on <= {a} AND {window} "
        f"AND {_institution_of(sql, scope, 'a.owner_id')} "
        f"ORDER BY n.ends_on, n.achievement_id LIMIT {sql.param(limit, 'int')}"
    )


def _registrations(sql: Sql, scope: Scope, as_of: date, within_days: int, limit: int) -> str:
    a = sql.param(as_of, "date")
    return (
        "SELECT c.contract_id AS id, c.kind AS contract_kind, c.seller_id AS institution_id, c.signed_on, "
        f"c.contract_value_fen, c.transaction_value_fen, c.currency, ({a} - c.signed_on) AS days "
        "FROM ct_contracts c WHERE c.signed_on IS NOT NULL AND c.registered_on IS NULL "
        f"AND c.signed_on <= {a} - {sql.param(within_days, 'int')} AND {_contracts_of(sql, scope)} "
        f"ORDER BY c.signed_on, c.contract_id LIMIT {sql.param(limit, 'int')}"
    )


def _corrections(sql: Sql, scope: Scope, as_of: date, limit: int) -> str:
    a = sql.param(as_of, "date")
    return (
        "SELECT c.contract_id AS id, c.kind AS contract_kind, c.seller_id AS institution_id, c.signed_on, "
        "c.registered_on, c.registration_number, c.correction_requested_on, c.contract_value_fen, "
        f"c.transaction_value_fen, c.currency, ({a} - c.correction_requested_on) AS days "
        f"FROM ct_contracts c WHERE c.correction_requested_on <= {a} AND {_contracts_of(sql, scope)} "
        f"ORDER BY c.correction_requested_on, c.contract_id LIMIT {sql.param(limit, 'int')}"
    )


def _decisions(sql: Sql, scope: Scope, as_of: date, limit: int) -> str:
    a = sql.param(as_of, "date")
    return (
        "SELECT h.holding_id AS id, h.institution_id, h.contract_id, h.company_name, h.company_code, "
        f"h.contributed_on, h.valuation_fen, h.currency, ({a} - h.contributed_on) AS days FROM ct_holdings h "
        f"WHERE h.decided_on IS NULL AND h.contributed_on <= {a} "
        f"AND {_institution_of(sql, scope, 'h.institution_id')} "
        f"ORDER BY h.contributed_on, h.holding_id LIMIT {sql.param(limit, 'int')}"
    )


_TRIGGER_MET_ON = "LEAST(u.date_trigger_on, CASE WHEN u.revenue_trigger THEN u.first_revenue_on END, u.milestone_met_on)"
"""When the first agreed trigger was met (domain/ufpl.py ``first_trigger_met``); LEAST skips the NULLs."""


def _trials(sql: Sql, scope: Scope, as_of: date, horizon: date, limit: int, which: str) -> str:
    a = sql.param(as_of, "date")
    not_met = f"({_TRIGGER_MET_ON} IS NULL OR {_TRIGGER_MET_ON} > {a})"
    if which == "ufpl_trigger_reached":
        window = f"{_TRIGGER_MET_ON} <= {a}"
    elif which == "ufpl_trial_ended":
        window = f"c.trial_end_on < {a} AND {not_met}"
    else:
        window = f"c.trial_end_on >= {a} AND c.trial_end_on <= {sql.param(horizon, 'date')} AND {not_met}"
    return (
        "SELECT c.contract_id AS id, c.seller_id AS institution_id, c.trial_started_on, c.trial_end_on, "
        f"c.contract_value_fen, c.licensee_revenue_fen, c.currency, (c.trial_end_on - {a}) AS days, "
        f"{_TRIGGER_MET_ON} AS trigger_met_on FROM ct_contracts c "
        "LEFT JOIN rcv_ufpl_triggers u ON u.contract_id = c.contract_id "
        "WHERE c.kind = 'ufpl_licence' AND c.ufpl_stage = 'trial' AND c.converted_on IS NULL "
        f"AND c.returned_on IS NULL AND c.trial_started_on <= {a} AND {window} AND {_contracts_of(sql, scope)} "
        f"ORDER BY c.trial_end_on, c.contract_id LIMIT {sql.param(limit, 'int')}"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _item(queue: Queue, record_kind: str, record_id: Any, dates: dict[str, Any], amounts: dict[str, Any],
          details: dict[str, Any]) -> dict[str, Any]:
    rid = str(record_id)
    commands = queue.commands
    if record_kind == "self_implementation":
        commands = (_PAY_SELF,)
    return {
        "queue": queue.kind, "title": queue.title, "title_zh": queue.title_zh, "title_en": queue.title_en,
        "record": {"kind": record_kind, "id": rid, "link": LINKS[record_kind].format(id=rid)},
        "dates": {k: _plain(v) for k, v in dates.items()},
        "amounts": {k: (int(v) if v is not None else None) for k, v in amounts.items()},
        "details": {k: _plain(v) for k, v in details.items()},
        "clears": [{"operation_id": c.operation_id, "method": c.method, "path": c.path.format(id=rid)}
                   for c in commands],
    }


async def work_queues(db: Db, *, as_of: date, within_days: int, kinds: tuple[str, ...] | list[str] | None = None,
                      scope: Scope | None = None, limit: int = 100) -> dict[str, Any]:
    """The items of each queue in ``kinds`` (every kind by default) for ``scope``, as of ``as_of``.

    ``limit`` bounds the items of each queue; ``truncated`` says when a queue had more.
    """
    scope = scope or Scope()
    wanted = [k for k in QUEUE_KINDS if kinds is None or k in kinds]
    if scope.exchange_id is not None:
        wanted = [k for k in wanted if k in CONTRACT_QUEUES]
    horizon = as_of + timedelta(days=within_days)
    fetch = limit + 1
    out: dict[str, list[dict[str, Any]]] = {}
    truncated: dict[str, bool] = {}
    async with read_snapshot(db) as conn:
        for kind in wanted:
            queue = QUEUES[kind]
            sql = Sql()
            if kind in ("payment_due", "payment_overdue"):
                query = _payments(sql, scope, as_of, horizon, fetch, kind == "payment_overdue")
            elif kind in ("award_deadline_near", "award_deadline_passed"):
                query = _awards(sql, scope, as_of, horizon, fetch, kind == "award_deadline_passed")
            elif kind in ("invention_bonus_due", "invention_bonus_overdue"):
                query = _bonuses(sql, scope, as_of, horizon, fetch, kind == "invention_bonus_overdue")
            elif kind in ("notice_ended", "notice_ending"):
                query = _notices(sql, scope, as_of, horizon, fetch, kind == "notice_ended")
            elif kind == "registration_pending":
                query = _registrations(sql, scope, as_of, within_days, fetch)
            elif kind == "registration_correction":
                query = _corrections(sql, scope, as_of, fetch)
            elif kind == "equity_decision_missing":
                query = _decisions(sql, scope, as_of, fetch)
            else:
                query = _trials(sql, scope, as_of, horizon, fetch, kind)
            records = await conn.fetch(query, *sql.params)
            truncated[kind] = len(records) > limit
            out[kind] = [_to_item(queue, r) for r in records[:limit]]
        positions = {name: await position_of(conn, name) for name in READS}
    return {
        "as_of": as_of.isoformat(), "within_days": within_days, "horizon": horizon.isoformat(),
        "queues": [{"queue": k, "title": QUEUES[k].title, "title_zh": QUEUES[k].title_zh,
                    "title_en": QUEUES[k].title_en, "count": len(out[k]), "truncated": truncated[k],
                    "items": out[k]} for k in wanted],
        "projection_position": min(positions.values()) if positions else 0,
    }


def _to_item(queue: Queue, r: Any) -> dict[str, Any]:
    kind = queue.kind
    if kind in ("payment_due", "payment_overdue"):
        return _item(queue, "contract", r["id"], {"due_on": r["due_on"]},
                     {"amount_fen": r["amount_fen"], "outstanding_fen": r["outstanding_fen"]},
                     {"due_item_id": r["item_id"], "due_item_kind": r["due_kind"], "label": r["label"],
                      "currency": r["currency"], "institution_id": r["institution_id"],
                      "days_overdue": max(int(r["days"]), 0)})
    if kind in ("award_deadline_near", "award_deadline_passed"):
        since = "received_on" if r["record_kind"] == "distribution" else "allocated_on"
        return _item(queue, r["record_kind"], r["id"], {since: r["since_on"], "deadline_on": r["deadline_on"]},
                     {"allocated_fen": r["allocated_fen"], "paid_fen": r["paid_fen"],
                      "unpaid_fen": int(r["allocated_fen"]) - int(r["paid_fen"])},
                     {"line": r["line"], "inventor": r["inventor"], "institution_id": r["institution_id"],
                      "contract_id": r["contract_id"]})
    if kind in ("invention_bonus_due", "invention_bonus_overdue"):
        return _item(queue, "achievement", r["id"], {"granted_on": r["granted_on"], "deadline_on": r["deadline_on"]},
                     {"floor_fen": r["floor_fen"], "paid_fen": r["paid_fen"],
                      "short_fen": int(r["floor_fen"]) - int(r["paid_fen"])},
                     {"ip_type": r["ip_type"], "institution_id": r["institution_id"]})
    if kind in ("notice_ended", "notice_ending"):
        return _item(queue, "achievement", r["id"], {"starts_on": r["starts_on"], "ends_on": r["ends_on"]},
                     {"agreed_price_fen": r["agreed_price_fen"]},
                     {"notice": r["seq"], "objections": r["objections"], "currency": r["currency"],
                      "institution_id": r["institution_id"]})
    if kind == "registration_pending":
        return _item(queue, "contract", r["id"], {"signed_on": r["signed_on"]},
                     {"contract_value_fen": r["contract_value_fen"],
                      "transaction_value_fen": r["transaction_value_fen"]},
                     {"contract_kind": r["contract_kind"], "currency": r["currency"],
                      "institution_id": r["institution_id"], "days_since_signed": int(r["days"])})
    if kind == "registration_correction":
        return _item(queue, "contract", r["id"], {"signed_on": r["signed_on"], "registered_on": r["registered_on"],
                                                  "correction_requested_on": r["correction_requested_on"]},
                     {"contract_value_fen": r["contract_value_fen"],
                      "transaction_value_fen": r["transaction_value_fen"]},
                     {"contract_kind": r["contract_kind"], "currency": r["currency"],
                      "registration_number": r["registration_number"], "institution_id": r["institution_id"],
                      "days_since_requested": int(r["days"])})
    if kind == "equity_decision_missing":
        return _item(queue, "equity_holding", r["id"], {"contributed_on": r["contributed_on"]},
                     {"valuation_fen": r["valuation_fen"]},
                     {"company_name": r["company_name"], "company_code": r["company_code"],
                      "currency": r["currency"], "institution_id": r["institution_id"],
                      "contract_id": r["contract_id"], "days_since_contributed": int(r["days"])})
    return _item(queue, "contract", r["id"], {"trial_started_on": r["trial_started_on"],
                                              "trial_end_on": r["trial_end_on"], "trigger_met_on": r["trigger_met_on"]},
                 {"contract_value_fen": r["contract_value_fen"], "licensee_revenue_fen": r["licensee_revenue_fen"]},
                 {"currency": r["currency"], "institution_id": r["institution_id"],
                  "days_to_trial_end": int(r["days"])})
