"""Equity contribution (作价投资): the holding, its awards, dividends, revaluation and sale."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.contract_terms import CURRENCY_CODE_VALID
from domain.enums import ValuationMethod
from domain.equity import (
    CONTRIBUTION_DECISION_RECORDED_ONCE,
    DECISION_RECORD_COMPLETE,
    DILUTION_INCREASES_TOTAL,
    EQUITY_DATES_IN_ORDER,
    EQUITY_FIGURES_POSITIVE,
    EQUITY_REFERENCE_UNIQUE,
    EQUITY_TEXT_REQUIRED,
    IMPAIRMENT_WITHIN_CARRYING_VALUE,
    REGISTERED_CAPITAL_WITHIN_VALUATION,
    SHARES_WITHIN_HOLDING,
    UNIFIED_SOCIAL_CREDIT_CODE_VALID,
    USCC_CHARS,
    Company,
    DecisionRecord,
    EquityHolding,
    EquityValuation,
    is_valid_uscc,
    uscc_check_char,
)
from tests.unit.contract_support import (
    ACHIEVEMENT,
    SELLER,
    WAN,
    assert_rebuilds,
    assert_rejected,
    d,
    new_id,
)

DECISION = DecisionRecord(("校长办公会", "国资处 赵六"), "2024年度审计减值测试", d("2025-03-01"))


def contribute(**changes: Any) -> EquityHolding:
    args: dict[str, Any] = {
        "contract_id": new_id(),
        "institution_id": SELLER,
        "achievement_ids": [ACHIEVEMENT],
        "company": Company("西安某某新材料有限公司", "91350100M000100Y43"),
        "valuation": EquityValuation(
            500 * WAN, ValuationMethod.income, "某某资产评估有限公司", d("2024-01-05")
        ),
        "registered_capital_fen": 400 * WAN,
        "shares_received": 4_000_000,
        "total_shares": 10_000_000,
        "contributed_on": d("2024-02-01"),
    }
    args.update(changes)
    return EquityHolding.record_contribution(**args)


# --- unified social credit code (GB 32100-2015) ---------------------------------------------


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L", "91440300708461136T"])
def test_known_codes_pass(code: str) -> None:
    assert is_valid_uscc(code)


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",
        "91350100M000100Y4",
        "9135010OM000100Y43",
        "91AB0100M000100Y43",
        "91350100m000100y43",
    ],
)
def test_bad_codes_fail(code: str) -> None:
    assert not is_valid_uscc(code)


@given(st.text(alphabet=USCC_CHARS, min_size=17, max_size=17).filter(lambda s: s[2:8].isdigit()))
def test_check_char_makes_any_body_valid(body: str) -> None:
    assert is_valid_uscc(body + uscc_check_char(body))
    wrong = next(c for c in USCC_CHARS if c != uscc_check_char(body))
    assert not is_valid_uscc(body + wrong)


def test_company_code_is_validated() -> None:
    assert_rejected(
        None,
        UNIFIED_SOCIAL_CREDIT_CODE_VALID,
        "company.unified_social_credit_code",
        lambda: contribute(company=Company("某公司", "91350100M000100Y44")),
    )


def test_company_name_required() -> None:
    assert_rejected(
        None,
        EQUITY_TEXT_REQUIRED,
        "company.name",
        lambda: contribute(company=Company(" ", "91350100M000100Y43")),
    )


def test_assessed_valuation_names_its_assessor() -> None:
    valuation = EquityValuation(500 * WAN, ValuationMethod.market, None, d("2024-01-05"))
    assert_rejected(
        None, EQUITY_TEXT_REQUIRED, "valuation.assessor", lambda: contribute(valuation=valuation)
    )
    agreed = EquityValuation(500 * WAN, ValuationMethod.agreed, None, d("2024-01-05"))
    assert contribute(valuation=agreed).valuation.assessor is None


def test_currency_code() -> None:
    assert_rejected(None, CURRENCY_CODE_VALID, "currency", lambda: contribute(currency="yuan"))
    assert contribute().currency == "CNY"


def test_figures_positive() -> None:
    assert_rejected(
        None, EQUITY_FIGURES_POSITIVE, "shares_received", lambda: contribute(shares_received=0)
    )
    assert_rejected(
        None, EQUITY_FIGURES_POSITIVE, "total_shares", lambda: contribute(total_shares=3_999_999)
    )


def test_registered_capital_within_valuation() -> None:
    assert_rejected(
        None,
        REGISTERED_CAPITAL_WITHIN_VALUATION,
        "registered_capital_fen",
        lambda: contribute(registered_capital_fen=500 * WAN + 1),
    )


def test_valuation_not_after_the_contribution() -> None:
    valuation = EquityValuation(500 * WAN, ValuationMethod.income, "评估所", d("2024-02-02"))
    assert_rejected(
        None, EQUITY_DATES_IN_ORDER, "valuation.valued_on", lambda: contribute(valuation=valuation)
    )


# --- the share register -----------------------------------------------------------------------


def test_awards_cannot_exceed_the_holding() -> None:
    holding = contribute()
    holding.award_shares("李四", 2_400_000, d("2024-03-01"))
    assert holding.shares_held == 1_600_000
    assert holding.inventor_percent("李四") == Decimal(24)
    assert_rejected(
        holding,
        SHARES_WITHIN_HOLDING,
        "shares",
        lambda: holding.award_shares("王五", 1_600_001, d("2024-03-01")),
    )


def test_sales_cannot_exceed_the_holding() -> None:
    holding = contribute()
    assert_rejected(
        holding,
        SHARES_WITHIN_HOLDING,
        "shares",
        lambda: holding.sell_shares("S1", 4_000_001, 800 * WAN, "某基金", d("2025-01-01")),
    )


def test_revaluation_and_impairment_need_a_decision_record() -> None:
    holding = contribute()
    no_makers = replace(DECISION, decision_makers=())
    no_basis = replace(DECISION, basis=" ")
    assert_rejected(
        holding,
        DECISION_RECORD_COMPLETE,
        "decision.decision_makers",
        lambda: holding.impair(WAN, no_makers),
    )
    assert_rejected(
        holding, DECISION_RECORD_COMPLETE, "decision.basis", lambda: holding.revalue(WAN, no_basis)
    )


def test_impairment_within_carrying_value() -> None:
    holding = contribute()
    assert_rejected(
        holding,
        IMPAIRMENT_WITHIN_CARRYING_VALUE,
        "amount_fen",
        lambda: holding.impair(500 * WAN + 1, DECISION),
    )
    assert_rejected(
        holding,
        IMPAIRMENT_WITHIN_CARRYING_VALUE,
        "new_value_fen",
        lambda: holding.revalue(-1, DECISION),
    )


def test_dilution_raises_total_shares_only() -> None:
    holding = contribute()
    assert_rejected(
        holding,
        DILUTION_INCREASES_TOTAL,
        "new_total_shares",
        lambda: holding.record_dilution(10_000_000, d("2025-01-01"), "A轮"),
    )
    holding.record_dilution(16_000_000, d("2025-01-01"), "A轮融资")
    assert (holding.shares_held, holding.holding_percent) == (4_000_000, Decimal(25))


def test_references_are_unique() -> None:
    holding = contribute()
    holding.receive_dividend("DIV-2024", 20 * WAN, d("2025-04-01"))
    assert_rejected(
        holding,
        EQUITY_REFERENCE_UNIQUE,
        "dividend_id",
        lambda: holding.receive_dividend("DIV-2024", WAN, d("2025-04-02")),
    )


def test_nothing_before_the_contribution() -> None:
    holding = contribute()
    assert_rejected(
        holding,
        EQUITY_DATES_IN_ORDER,
        "received_on",
        lambda: holding.receive_dividend("D", WAN, d("2024-01-31")),
    )


def test_carrying_value_goes_out_pro_rata_and_wholly_with_the_last_share() -> None:
    holding = contribute(
        valuation=EquityValuation(100, ValuationMethod.agreed, None, d("2024-01-05")),
        registered_capital_fen=100,
        shares_received=3,
    )
    holding.sell_shares("S1", 1, 50, "甲", d("2025-01-01"))
    holding.sell_shares("S2", 1, 50, "乙", d("2025-01-02"))
    holding.sell_shares("S3", 1, 50, "丙", d("2025-01-03"))
    derecognised = [e.carrying_value_derecognised_fen for e in holding.pending_events[1:]]  # type: ignore[attr-defined]
    assert derecognised == [33, 34, 33]
    assert holding.carrying_value_fen == 0
    assert holding.cashed_in_fen == 150
    assert_rebuilds(holding)


def test_the_contribution_decision_is_recorded_once_and_before_the_contribution() -> None:
    holding = contribute()  # contributed 2024-02-01
    assert holding.contribution_decision is None
    late = replace(DECISION, decided_on=d("2024-02-02"))
    assert_rejected(holding, CONTRIBUTION_DECISION_RECORDED_ONCE, "decision.decided_on",
                    lambda: holding.record_contribution_decision(late))
    assert_rejected(holding, DECISION_RECORD_COMPLETE, "decision.basis",
                    lambda: holding.record_contribution_decision(replace(DECISION, basis=" ",
                                                                         decided_on=d("2024-01-20"))))
    decision = replace(DECISION, decided_on=d("2024-01-20"))
    holding.record_contribution_decision(decision)
    assert holding.contribution_decision == decision and holding.decisions == (decision,)
    assert_rejected(holding, CONTRIBUTION_DECISION_RECORDED_ONCE, "decision",
                    lambda: holding.record_contribution_decision(decision))
    assert [type(e).__name__ for e in assert_rebuilds(holding)][-1] == "ContributionDecisionRecorded"
