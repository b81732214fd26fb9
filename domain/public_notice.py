"""Public notice (公示) of an achievement's agreed price (促进科技成果转化法 Art. 18).

A public institution that transfers an achievement at an agreed price must
publish the achievement's name and the price first. The notices live in the
Achievement aggregate; the checks here are pure functions over its tuple of
notices, so the aggregate only decides what to record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from domain.enums import NoticeOutcome
from domain.errors import require, rule
from domain.serialisable import value_object

ART_18 = "促进科技成果转化法 Art. 18"
G = "public_notice"
NOTICE_ONE_AT_A_TIME = rule(
    "notice_one_at_a_time",
    "A new public notice is published only when no earlier notice of the achievement is open.",
    group=G,
)
NOTICE_OPEN = rule(
    "notice_open",
    "Objections and conclusions refer to a public notice that is open (published, not concluded).",
    group=G,
)
NOTICE_OBJECTION_WITHIN_PERIOD = rule(
    "notice_objection_within_period",
    "An objection is dated within the period of the notice it objects to.",
    source=ART_18,
    group=G,
)
NOTICE_CONCLUDED_AFTER_PERIOD = rule(
    "notice_concluded_after_period",
    "A public notice is concluded on or after its last day.",
    source=ART_18,
    group=G,
)
NOTICE_OUTCOME_MATCHES_OBJECTIONS = rule(
    "notice_outcome_matches_objections",
    "A notice ends with no objection only if none was recorded, and an objection is upheld or "
    "rejected only if one was.",
    group=G,
)
AGREED_PRICE_NOTICE_REQUIRED = rule(
    "agreed_price_notice_required",
    "A public institution transfers an achievement at an agreed price only after a completed "
    "public notice of its name and price with no objection upheld.",
    source=ART_18,
    group=G,
)


@value_object
@dataclass(frozen=True)
class Objection:
    objector: str
    reason: str
    raised_on: date


@value_object
@dataclass(frozen=True)
class PublicNotice:
    """One notice: its period, the agreed price, objections and how it ended."""

    starts_on: date
    ends_on: date
    agreed_price_fen: int
    currency: str
    objections: tuple[Objection, ...] = ()
    outcome: NoticeOutcome | None = None
    concluded_on: date | None = None


def open_notice(notices: Sequence[PublicNotice]) -> PublicNotice | None:
    """The notice still open, if any (only the latest can be)."""
    return notices[-1] if notices and notices[-1].outcome is None else None


def check_publish(notices: Sequence[PublicNotice]) -> None:
    require(open_notice(notices) is None, NOTICE_ONE_AT_A_TIME, "starts_on", "a notice is open",
            zh="已有进行中的公示")


def check_objection(notices: Sequence[PublicNotice], raised_on: date) -> None:
    notice = open_notice(notices)
    require(notice is not None, NOTICE_OPEN, "raised_on", "no notice is open",
            zh="没有进行中的公示")
    assert notice is not None
    require(
        notice.starts_on <= raised_on <= notice.ends_on,
        NOTICE_OBJECTION_WITHIN_PERIOD,
        "raised_on",
        f"{raised_on} is outside {notice.starts_on}..{notice.ends_on}",
        zh=f"{raised_on} 不在公示期 {notice.starts_on}..{notice.ends_on} 内",
    )


def check_conclusion(notices: Sequence[PublicNotice], outcome: NoticeOutcome, on: date) -> None:
    notice = open_notice(notices)
    require(notice is not None, NOTICE_OPEN, "on", "no notice is open", zh="没有进行中的公示")
    assert notice is not None
    require(
        on >= notice.ends_on,
        NOTICE_CONCLUDED_AFTER_PERIOD,
        "on",
        f"{on} is before the notice ends on {notice.ends_on}",
        zh=f"{on} 早于公示结束日 {notice.ends_on}",
    )
    objected = bool(notice.objections)
    require(
        objected == (outcome != NoticeOutcome.no_objection),
        NOTICE_OUTCOME_MATCHES_OBJECTIONS,
        "outcome",
        f"{outcome} after {len(notice.objections)} objections",
        zh=f"记录了 {len(notice.objections)} 项异议，结果为 {outcome}",
    )


def notice_satisfied(notices: Sequence[PublicNotice], on: date) -> bool:
    """The latest notice concluded by ``on`` stands: it had no objection upheld.

    A later upheld objection overrides an earlier clean notice, because the
    price that was objected to is the one the parties would now use.
    """
    done = [n for n in notices if n.concluded_on is not None and n.concluded_on <= on]
    return bool(done) and done[-1].outcome != NoticeOutcome.objection_upheld


def check_agreed_price(
    notices: Sequence[PublicNotice], owner_is_public: bool, on: date, field: str
) -> None:
    require(
        not owner_is_public or notice_satisfied(notices, on),
        AGREED_PRICE_NOTICE_REQUIRED,
        field,
        f"no completed public notice without an upheld objection by {on}",
        zh=f"截至 {on} 没有已完成且无成立异议的公示",
    )
