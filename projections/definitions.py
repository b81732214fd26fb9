"""Statistical definitions (统计口径) published with every figure, and the transfer-rate formulas.

A figure is never published without its ``definition`` block: the formula,
the scope (which contracts or achievements count), the date basis (which
date puts a record in a period), the status basis (which statuses count),
the currency, and ``as_of_position``, the log position the projection had
applied when the figure was read. docs/statistics.md repeats these texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def definition(
    *,
    figure: str,
    title: str,
    formula: str,
    scope: str,
    date_basis: str,
    status_basis: str,
    currency: str,
    as_of_position: int,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "figure": figure,
        "title": title,
        "formula": formula,
        "scope": scope,
        "date_basis": date_basis,
        "status_basis": status_basis,
        "currency": currency,
        "as_of_position": as_of_position,
        **extra,
    }


# --- contract value (技术合同成交额) -------------------------------------------------------

CONTRACT_VALUE = {
    "title": "技术合同成交额 (contract value) with technology transaction value and registered value",
    "formula": (
        "count = number of contracts; contract_value = Σ contract value (合同成交额) agreed in the "
        "terms; transaction_value = Σ technology transaction value (技术交易额); registered_value = "
        "Σ approved transaction value of the latest registration (登记额, corrections 补正 "
        "included) over registered contracts; cash_received = Σ PaymentReceived.amount − Σ "
        "CreditRefunded.amount to date on the contracts counted; yoy = (this period − same period "
        "a year earlier) ÷ same period a year earlier × 100"
    ),
    "scope": (
        "Every technology contract of every kind (assignment, licence, UFPL licence, equity "
        "contribution, development, consulting, service), counted once per contract: a contract "
        "whose achievement is listed on several exchanges (joint listing) is one contract, never "
        "one per listing; a contract covering several achievements is one contract. Seller "
        "attributes are those of the lead seller (the first named, the one the ledger books "
        "income to) and buyer attributes those of the buyer, as they stood when the contract was "
        "drafted; technology field and IP type are those of the primary (first) achievement; "
        "development, consulting and service contracts cover no achievement and have none. The "
        "seller filter matches any of a contract's sellers; the exchange filter matches contracts "
        "whose achievements had a listing in force on that exchange when the contract was drafted."
    ),
    "status_basis": (
        "Signed or later: signed, in force, completed, expired and terminated contracts all count "
        "(a terminated contract was still signed in its period); drafts never count. With the "
        "registration date basis only registered contracts count."
    ),
}
CONTRACT_VALUE_DATE_BASIS = {
    "signed": "Signing date (签订日期) puts a contract in a period.",
    "registered": (
        "Date of first registration (认定登记日期) puts a contract in a period; a correction (补正) "
        "changes the registered value but never moves the contract to another period."
    ),
}

# --- transfer rate (科技成果转化率) --------------------------------------------------------

TRANSFERRED = (
    "An achievement is transferred (已转化) from the first date on which an assignment (转让) or "
    "a licence (许可) covering it took effect, an equity contribution (作价投资) covering it took "
    "effect, or a use-first-pay-later licence covering it converted to paid terms (a UFPL trial "
    "that is returned never transfers it). It stays transferred if that contract ends later. "
    "Each achievement counts once, however many contracts or exchange listings it has."
)


@dataclass(frozen=True)
class TransferRateFormula:
    """One way of computing a transfer rate; every result names the formula it used.

    The SQL parts run over ``tr_achievements``; ``{as_of}`` stands for the as-of
    date parameter.
    """

    name: str
    title: str
    formula: str
    numerator: str
    denominator: str
    date_basis: str
    population_sql: str  # which achievements form the denominator as of {as_of}
    date_column: str  # the date that puts an achievement in a period
    numerator_sql: str  # a count over the population
    denominator_sql: str = "count(*)"
    note: str = ""

    def describe(self) -> dict[str, str]:
        return {
            "name": self.name,
            "title": self.title,
            "formula": self.formula,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "date_basis": self.date_basis,
            "note": self.note,
        }


TRANSFER_RATE_FORMULAS: dict[str, TransferRateFormula] = {}


def register_formula(formula: TransferRateFormula) -> TransferRateFormula:
    if formula.name in TRANSFER_RATE_FORMULAS:
        raise ValueError(f"transfer-rate formula {formula.name!r} is registered already")
    TRANSFER_RATE_FORMULAS[formula.name] = formula
    return formula


def transfer_rate_formula(name: str) -> TransferRateFormula:
    try:
        return TRANSFER_RATE_FORMULAS[name]
    except KeyError:
        raise KeyError(
            f"no transfer-rate formula {name!r}; known: {sorted(TRANSFER_RATE_FORMULAS)}"
        ) from None


_TRANSFERRED_BY = "count(*) FILTER (WHERE first_transferred_on <= {as_of})"
_NUMERATOR = "achievements of the denominator transferred on or before the as-of date. " + TRANSFERRED

register_formula(TransferRateFormula(
    name="transferred_over_registered",
    title="已转化成果数 / 登记成果数",
    formula="transferred achievements ÷ registered achievements × 100%",
    numerator=_NUMERATOR,
    denominator="every achievement registered in the ledger on or before the as-of date",
    date_basis="registration date of the achievement puts it in a period (cohort)",
    population_sql="registered_on <= {as_of}",
    date_column="registered_on",
    numerator_sql=_TRANSFERRED_BY,
))
register_formula(TransferRateFormula(
    name="transferred_over_separate_register",
    title="已转化成果数 / 单列管理职务科技成果数",
    formula="transferred service achievements ÷ service achievements in the separate asset "
    "register (资产单列管理) × 100%",
    numerator=_NUMERATOR,
    denominator="service achievements in the separate asset register on the as-of date "
    "(entered on or before it and not exited by it; the latest stay counts)",
    date_basis="date of entry into the separate register puts an achievement in a period (cohort)",
    population_sql="register_entered_on <= {as_of} AND (register_exited_on IS NULL "
    "OR register_exited_on > {as_of})",
    date_column="register_entered_on",
    numerator_sql=_TRANSFERRED_BY,
    note="Shaanxi reports 48,000+ transferred of 113,000 under the separate register without "
    "saying one is a subset of the other; here the numerator is always a subset of the denominator.",
))
register_formula(TransferRateFormula(
    name="transferred_over_granted_invention_patents",
    title="已转化发明专利数 / 授权发明专利数",
    formula="transferred granted invention patents ÷ granted invention patents × 100%",
    numerator=_NUMERATOR,
    denominator="invention patents (发明专利) granted on or before the as-of date",
    date_basis="grant date puts a patent in a period (cohort)",
    population_sql="ip_type = 'invention_patent' AND granted_on <= {as_of}",
    date_column="granted_on",
    numerator_sql=_TRANSFERRED_BY,
))
register_formula(TransferRateFormula(
    name="patents_assigned_plus_licensed_over_granted",
    title="(专利转让数 + 专利许可数) / 专利授权数",
    formula="(granted patents assigned + granted patents licensed) ÷ granted patents × 100%",
    numerator="patents assigned: granted patents whose ownership moved by an assignment or equity "
    "contribution that took effect on or before the as-of date; plus patents licensed: granted "
    "patents under a licence that took effect, or a UFPL licence that converted, on or before it. "
    "Each patent counts at most once in each term, so one both assigned and licensed counts twice, "
    "as the formula reads.",
    denominator="patents of every kind (invention, utility model, design) granted on or before "
    "the as-of date",
    date_basis="grant date puts a patent in a period (cohort)",
    population_sql="ip_type IN ('invention_patent', 'utility_model', 'design') "
    "AND granted_on <= {as_of}",
    date_column="granted_on",
    numerator_sql="count(*) FILTER (WHERE assigned_on <= {as_of} OR equity_on <= {as_of}) "
    "+ count(*) FILTER (WHERE licensed_on <= {as_of})",
))
register_formula(TransferRateFormula(
    name="local_transfer_rate",
    title="本地转化率: 转化给本地企业的成果数 / 已转化成果数",
    formula="achievements transferred to a buyer in the owner's region ÷ transferred "
    "achievements × 100%",
    numerator="transferred achievements whose first transfer went to a buyer registered in the "
    "same province as the achievement's owner",
    denominator="achievements transferred on or before the as-of date. " + TRANSFERRED,
    date_basis="date of first transfer puts an achievement in a period",
    population_sql="first_transferred_on <= {as_of}",
    date_column="first_transferred_on",
    numerator_sql="count(*) FILTER (WHERE first_local)",
    note="Sichuan reported 63.1% (2015) and 34.2% (2023) on a comparable definition.",
))

TRANSFER_RATE_SCOPE = (
    "Achievements registered in the ledger, attributed to their owner at registration (the "
    "first owner named) and that owner's region; field and IP type of the achievement."
)

# --- use-first-pay-later funnel ------------------------------------------------------------

UFPL_LISTED = (
    "UFPL-eligible listed achievement: a service achievement (职务科技成果) whose owner at "
    "registration is a university or research institute (the institutions whose results the "
    "Shaanxi and Sichuan UFPL schemes open to small and micro firms), listed (挂牌) on at least "
    "one exchange; counted once per achievement however many exchanges list it (joint listing), "
    "in the period of its first listing."
)
UFPL_FUNNEL = {
    "title": "先使用后付费 funnel",
    "formula": (
        "listed = UFPL-eligible achievements first listed; signed = UFPL licences signed (value = "
        "Σ contract value); trials_started = UFPL licences taking effect (trial start); converted "
        "= conversions to paid terms; returned = licences returned from the trial; defaulted = "
        "UFPL licences with a first recorded default; conversion_rate = converted ÷ (converted + "
        "returned) × 100 (share of decided trials that converted); licensee_revenue = Σ new "
        "revenue the licensees reported (新增营收); insurance_compensation = Σ compensation paid "
        "first by insurers (先行赔付)"
    ),
    "scope": UFPL_LISTED + " Contracts: technology contracts of kind ufpl_licence, once each.",
    "date_basis": (
        "Each stage in the period of its own date: first listing, signing, effective date (trial "
        "start), conversion, return, first default; revenue by the report date, compensation by "
        "the payment date. With as_of, the funnel on that business date: a stage counts only once "
        "its own date is on or before as_of."
    ),
    "status_basis": "Drafts never count; a returned licence stays counted as signed and started.",
}

# --- receivables -----------------------------------------------------------------------------

AGEING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 1, 30),
    ("31-90", 31, 90),
    ("91-180", 91, 180),
    ("181-365", 181, 365),
    (">365", 366, None),
)
RECEIVABLES = {
    "title": "应收账款 outstanding and overdue, with ageing",
    "formula": (
        "outstanding = Σ (amount − paid − written off − cancelled) over the due items that had arisen by "
        "as_of, counting only payments, credits applied, insurance compensation, write-offs and "
        "cancellations dated on or before as_of; overdue = outstanding on items whose due date on as_of "
        "(deferrals decided by then applied) is before as_of; days overdue = as_of − due date; buckets "
        "0-30 (1 to 30 days), 31-90, 91-180, 181-365, >365 days overdue; not_due = outstanding on "
        "items due on or after as_of"
    ),
    "scope": (
        "Due items (应收) of every contract, each from the day it arose: installments and entry fees "
        "from the effective date (or the UFPL conversion), royalties from the royalty report, "
        "minimum-royalty top-ups from the top-up, milestone payments from the milestone reached, "
        "and amounts an ending kept as still owed (agreed compensation, liquidated damages) from "
        "the end; booked to the contract's lead seller, on the same days as the journal's "
        "receivable entries, so the figure equals the books' receivable balance on as_of. Credits held from overpayments are not "
        "receivables. Items not yet due when a contract ended are cancelled by the end "
        "(民法典 第566条) and are not receivables."
    ),
    "date_basis": (
        "The state on the business date as_of (an item counts from the day it arose; money, "
        "write-offs and cancellations by their business dates; a deferral 延期支付 from the day it "
        "was decided), as the ledger knew it at log position known_at (default: everything "
        "recorded): entries recorded after known_at are left out even when dated earlier. Ageing "
        "is as_of less the item's due date on as_of."
    ),
    "status_basis": "Items with something outstanding, whatever the contract's status (a debt "
    "survives the contract's end).",
}

# --- distribution audit ------------------------------------------------------------------------

DISTRIBUTION = {
    "title": "收益分配审计 income distribution audit",
    "formula": (
        "received = Σ gross income of receipts allocated; deducted = received − net income "
        "(deductions counted by the rule pack, net never below 0); allocated = Σ allocation lines "
        "(= net income, adjustments applied); paid = Σ award payments dated on or before as_of; "
        "unpaid = allocated − paid; "
        "team_* restrict these to the inventor team's lines (the individual awards)"
    ),
    "scope": (
        "Receipts allocated under the institution's distribution policy (IncomeDistribution), "
        "their lines per beneficiary and per inventor, and policy versions adopted. A receipt is "
        "income recognised on a contract: the part of a payment or of insurance compensation paid "
        "first (先行赔付) that settled due items, or a credit when applied (credit-<n>); a credit "
        "still held or refunded is not income."
    ),
    "date_basis": "Receipt date (received_on; for a credit applied, the day it was applied) puts "
    "a receipt and its lines in a period; "
    "the audit is the state on the as_of date given: income received, awards paid and policies "
    "adopted on or before it, and award deadline status judged on it.",
    "status_basis": (
        "Deadline (财税〔2018〕58号: award paid within 36 months of receiving the income): "
        "paid_in_time = fully paid by as_of and every payment within the deadline; paid_late = "
        "fully paid by as_of with a payment after the deadline; overdue = not fully paid and as_of "
        "is after the deadline; open = not fully paid, deadline not passed. Judged for inventor-team "
        "lines with an amount."
    ),
    "floors": (
        "Policy floor breaches: policy versions flagged below their rule pack's floor (only "
        "institutions not bound by the floor can adopt one). Allocation floor breaches: receipts "
        "allocated with a band below the floor (below_floor) or whose team amount is under the "
        "floor in fen (team_short_fen > 0)."
    ),
}


# --- award obligations beside income distribution (projections/obligation_queries.py) ----------

SELF_IMPLEMENTATION_AWARDS = {
    "title": "自行实施奖励 self-implementation awards",
    "formula": (
        "allocated = Σ inventor lines of the awards from operating profit allocated by as_of; "
        "paid = Σ payments of those lines dated on or before as_of; unpaid = allocated − paid"
    ),
    "scope": (
        "Awards to inventors from a self-implementation's yearly operating profit "
        "(促进科技成果转化法 第45条第3项), one line per year and inventor, and their payments."
    ),
    "date_basis": "Allocation date (allocated_on) puts an award in a period and starts its deadline;",
    "status_basis": (
        "Deadline (财税〔2018〕58号): 36 months from the allocation date, the day the award is "
        "decided (an award from operating profit has no receipt of income; this is the ledger's "
        "reading). paid_in_time = line fully paid by as_of, every payment within the deadline; "
        "paid_late = fully paid with a payment after it; overdue = not fully paid and as_of is after "
        "the deadline; open = not fully paid, deadline not passed. Judged per inventor line with an amount."
    ),
}

INVENTION_BONUS = {
    "title": "职务发明人奖金 patent invention bonus",
    "formula": (
        "floor = 4,000.00 yuan per invention patent, 1,500.00 per utility model or design; "
        "paid = Σ bonus payments dated on or before as_of; short = floor − paid (never below 0; "
        "0 when the amount was agreed)"
    ),
    "scope": (
        "Granted patents (invention, utility model, design) of service achievements "
        "(专利法实施细则（2023） 第92–94条), one obligation per patent, owed by its first owner at "
        "registration."
    ),
    "date_basis": "Grant date (granted_on, taken as the announcement date) puts a patent in a "
    "period; the obligation arises on it and its deadline is 3 months later;",
    "status_basis": (
        "due = the floor not yet paid and the deadline not passed; met = the floor paid by the "
        "deadline; met_late = the floor paid, after the deadline; overdue = the deadline passed "
        "and the floor not paid by as_of; agreed = a payment recorded as agreed by the unit's "
        "agreement or own rule (第92条), not judged by the statutory floor (第93条)."
    ),
}
