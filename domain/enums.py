"""Shared enumerations of the domain, storable inside events.

Values are English snake case (stable codes in events and the API); the
Chinese term of each member is in ``CHINESE_LABELS`` (by enum, then value)
for the dashboard; ``chinese_label(member)`` looks one up.
"""

from __future__ import annotations

from enum import StrEnum

from domain.serialisable import domain_enum


@domain_enum
class InstitutionKind(StrEnum):
    """机构类型: seller/buyer type as the Torch Centre statistics count it."""

    university = "university"
    research_institute = "research_institute"
    enterprise = "enterprise"
    exchange = "exchange"
    other = "other"


@domain_enum
class EnterpriseSize(StrEnum):
    """企业规模 (大型/中型/小型/微型); UFPL licences go to small and micro firms."""

    large = "large"
    medium = "medium"
    small = "small"
    micro = "micro"


@domain_enum
class IpType(StrEnum):
    """知识产权类型 of an achievement."""

    invention_patent = "invention_patent"
    utility_model = "utility_model"
    design = "design"
    software_copyright = "software_copyright"
    ic_layout = "ic_layout"
    technical_secret = "technical_secret"
    plant_variety = "plant_variety"
    other = "other"


@domain_enum
class TechnologyField(StrEnum):
    """技术领域, the national statistics categories of technology contracts."""

    electronic_information = "electronic_information"
    advanced_manufacturing = "advanced_manufacturing"
    new_materials = "new_materials"
    biomedicine = "biomedicine"
    new_energy_and_energy_saving = "new_energy_and_energy_saving"
    environmental_protection = "environmental_protection"
    aerospace = "aerospace"
    agriculture = "agriculture"
    urban_construction_and_social_development = "urban_construction_and_social_development"
    nuclear = "nuclear"
    modern_transport = "modern_transport"
    other = "other"


@domain_enum
class RulePackId(StrEnum):
    """规则包: whose statutory distribution floors an institution follows."""

    national = "national"
    beijing = "beijing"
    shanghai = "shanghai"
    zhejiang = "zhejiang"
    shandong = "shandong"


@domain_enum
class ValuationMethod(StrEnum):
    """评估方法 (成本法/市场法/收益法/协议定价)."""

    cost = "cost"
    market = "market"
    income = "income"
    agreed = "agreed"


@domain_enum
class RightsGrantKind(StrEnum):
    """赋权方式: 共同共有, 按份共有 or 长期使用权."""

    joint_ownership = "joint_ownership"
    ownership_by_share = "ownership_by_share"
    long_term_use_right = "long_term_use_right"


@domain_enum
class ContractKind(StrEnum):
    """技术合同类别 (Civil Code Art. 843) plus the deal forms the ledger tells apart."""

    assignment = "assignment"
    licence = "licence"
    ufpl_licence = "ufpl_licence"
    equity_contribution = "equity_contribution"
    development = "development"
    consulting = "consulting"
    service = "service"


@domain_enum
class LicenceType(StrEnum):
    """许可类型 (SPC interpretation Art. 25): 独占, 排他, 普通."""

    exclusive = "exclusive"
    sole = "sole"
    non_exclusive = "non_exclusive"


@domain_enum
class NoticeOutcome(StrEnum):
    """公示结果: how a public notice of an agreed price ended."""

    no_objection = "no_objection"
    objection_rejected = "objection_rejected"
    objection_upheld = "objection_upheld"


# Keyed by enum class first: members of different enums can share a value
# (every ``other``), and StrEnum members hash as their string value.
CHINESE_LABELS: dict[type[StrEnum], dict[str, str]] = {
    InstitutionKind: {
        InstitutionKind.university: "高等院校",
        InstitutionKind.research_institute: "科研院所",
        InstitutionKind.enterprise: "企业",
        InstitutionKind.exchange: "技术交易机构",
        InstitutionKind.other: "其他",
    },
    EnterpriseSize: {
        EnterpriseSize.large: "大型企业",
        EnterpriseSize.medium: "中型企业",
        EnterpriseSize.small: "小型企业",
        EnterpriseSize.micro: "微型企业",
    },
    IpType: {
        IpType.invention_patent: "发明专利",
        IpType.utility_model: "实用新型专利",
        IpType.design: "外观设计专利",
        IpType.software_copyright: "计算机软件著作权",
        IpType.ic_layout: "集成电路布图设计",
        IpType.technical_secret: "技术秘密",
        IpType.plant_variety: "植物新品种",
        IpType.other: "其他",
    },
    TechnologyField: {
        TechnologyField.electronic_information: "电子信息",
        TechnologyField.advanced_manufacturing: "先进制造",
        TechnologyField.new_materials: "新材料及其应用",
        TechnologyField.biomedicine: "生物、医药和医疗器械",
        TechnologyField.new_energy_and_energy_saving: "新能源与高效节能",
        TechnologyField.environmental_protection: "环境保护与资源综合利用",
        TechnologyField.aerospace: "航空航天",
        TechnologyField.agriculture: "现代农业",
        TechnologyField.urban_construction_and_social_development: "城市建设与社会发展",
        TechnologyField.nuclear: "核应用",
        TechnologyField.modern_transport: "现代交通",
        TechnologyField.other: "其他",
    },
    RulePackId: {
        RulePackId.national: "国家（促进科技成果转化法）",
        RulePackId.beijing: "北京市",
        RulePackId.shanghai: "上海市",
        RulePackId.zhejiang: "浙江省",
        RulePackId.shandong: "山东省",
    },
    ValuationMethod: {
        ValuationMethod.cost: "成本法",
        ValuationMethod.market: "市场法",
        ValuationMethod.income: "收益法",
        ValuationMethod.agreed: "协议定价",
    },
    RightsGrantKind: {
        RightsGrantKind.joint_ownership: "共同共有",
        RightsGrantKind.ownership_by_share: "按份共有",
        RightsGrantKind.long_term_use_right: "长期使用权",
    },
    ContractKind: {
        ContractKind.assignment: "技术转让",
        ContractKind.licence: "技术许可",
        ContractKind.ufpl_licence: "先使用后付费许可",
        ContractKind.equity_contribution: "作价投资",
        ContractKind.development: "技术开发",
        ContractKind.consulting: "技术咨询",
        ContractKind.service: "技术服务",
    },
    LicenceType: {
        LicenceType.exclusive: "独占许可",
        LicenceType.sole: "排他许可",
        LicenceType.non_exclusive: "普通许可",
    },
    NoticeOutcome: {
        NoticeOutcome.no_objection: "无异议",
        NoticeOutcome.objection_rejected: "异议不成立",
        NoticeOutcome.objection_upheld: "异议成立",
    },
}


def chinese_label(member: StrEnum) -> str:
    """The Chinese term for ``member``, for display only (never stored)."""
    return CHINESE_LABELS[type(member)][member.value]
