// Words of the workbench: Chinese first, English beside it. Enumerations' Chinese labels come from the
// server (GET /workbench/labels.json, domain/enums.py); the words here are the page's own.

import { enumLabels } from "./api.js";

/** A label node's text parts: {zh, en}; `both` joins them "中文 / English". */
export function both(entry) {
  if (!entry) return "";
  if (typeof entry === "string") return entry;
  return entry.zh && entry.en ? `${entry.zh} / ${entry.en}` : entry.zh || entry.en;
}

const W = (zh, en) => ({ zh, en });

export const UI = {
  queue: W("待办", "Work queue"),
  lists: W("列表", "Lists"),
  import: W("批量导入", "Bulk import"),
  more: W("更多", "More"),
  search: W("搜索", "Search"),
  filter: W("筛选", "Filter"),
  any: W("全部", "any"),
  yes: W("是", "yes"),
  no: W("否", "no"),
  none: W("无记录", "nothing here"),
  loading: W("加载中…", "loading…"),
  submit: W("提交", "Submit"),
  submitting: W("提交中…", "Submitting…"),
  cancel: W("返回", "Back"),
  add: W("添加", "Add"),
  remove: W("删除", "Remove"),
  fillIn: W("填写此项", "fill in"),
  new: W("新建", "New"),
  reload: W("重新加载", "Reload"),
  notFound: W("未找到该记录，或您无权查看", "Not found, or not yours to see"),
  forbidden: W("您的角色不能使用此功能", "Your role may not use this"),
  conflict: W("记录已被他人修改：请重新加载，核对后再提交",
    "The record changed since you opened it: reload, check, and submit again"),
  fixBelow: W("请更正以下标注的字段", "Please correct the fields marked below"),
  otherErrors: W("其他问题", "Other problems"),
  commands: W("可执行操作", "Commands"),
  moreCommands: W("其他操作", "Other commands"),
  history: W("记录历史", "History"),
  recordedBy: W("录入人", "Recorded by"),
  event: W("事件", "Event"),
  at: W("录入时间", "Recorded at"),
  journal: W("会计分录", "Journal"),
  account: W("科目", "Account"),
  pickHint: W("输入名称搜索，然后点选", "type a name, then pick"),
  noMatch: W("没有匹配的记录", "no match"),
  chosen: W("已选", "chosen"),
  change: W("更换", "change"),
  networkError: W("网络错误，未收到答复；可以再次提交（不会重复录入）",
    "Network error, no answer: submitting again is safe (it is written once)"),
  yuan: W("元", "yuan"),
  signedOut: W("请先登录", "Please sign in"),
  id: W("编号", "id"),
  openRecord: W("打开记录", "open record"),
  queueEmpty: W("当前没有待办事项", "Nothing to do right now"),
};

export const ROLES = { admin: W("管理员", "administrator"), institution: W("机构", "institution"),
  operator: W("技术交易机构", "exchange operator"), regulator: W("监管部门", "regulator") };

/** Chinese names of the fields the forms and pages show; English is the schema's title. */
export const FIELDS = {
  title: "标题", kind: "类别", name: "名称", seller_ids: "卖方（让与方/许可方）", buyer_id: "买方（受让方/被许可方）",
  achievement_ids: "科技成果", achievement_id: "科技成果", contract_value_fen: "合同成交额", transaction_value_fen: "技术交易额",
  registered_value_fen: "登记额", currency: "币种", agreed_price: "协议定价", payment_terms: "支付条款",
  fixed_price_fen: "固定价款", installments: "分期付款", entry_fee: "入门费", royalty: "提成", milestones: "里程碑付款",
  payments_start_on: "开始付款日期", amount_fen: "金额", due_on: "到期日", received_on: "收款日期",
  payment_id: "付款编号", due_item_id: "应收款项", overpayment: "超额付款处理", payer: "付款方", on: "日期",
  registration: "认定登记", registry: "登记机构", registration_number: "登记编号", approved_category: "核定类别",
  approved_transaction_value_fen: "核定技术交易额", registered_on: "登记日期", exchange_id: "技术交易机构",
  listing_number: "挂牌编号", listed_on: "挂牌日期", asking_price_fen: "挂牌价格", drafted_on: "起草日期",
  licence: "许可条款", licence_type: "许可方式", territory: "地域范围", term_start: "许可期限起", term_end: "许可期限止",
  ufpl: "先用后付条款", institution_id: "机构", partner_id: "合作方", contract_id: "合同", owners: "权利人",
  inventors: "完成人", share: "份额（%）", ip_type: "成果类型", technology_field: "技术领域", region: "地区",
  city: "城市", size: "企业规模", public: "公立", rule_pack: "适用规则", registered: "登记",
  signed_on: "签订日期", effective_on: "生效日期", ended_on: "终止日期", status: "状态", reason: "原因",
  note: "备注", notes: "备注", end: "终止方式", base: "提成基数", tiers: "阶梯", rate: "比例", threshold: "起点",
  reporting_period: "报告周期", minimum_annual_fen: "年度最低提成", tiering: "阶梯方式", receipt_id: "收款编号",
  receipt: "收款", label: "说明", outstanding_fen: "未收金额", paid_fen: "已收金额", delisted_on: "摘牌日期",
  contract_title: "合同", exchange_name: "技术交易机构", net_fen: "净收入", team_fen: "团队分配额",
  team_paid_fen: "团队已发放", deadline_on: "发放期限", gross_fen: "收入总额", company_name: "公司名称",
  contributed_on: "出资日期", valuation_fen: "作价金额", shares_held: "持有股份", source: "来源",
  seller_name: "卖方", buyer_name: "买方", granted_on: "授权日期", registered_from: "登记日期起",
  registered_to: "登记日期止", signed_from: "签订日期起", signed_to: "签订日期止", official_number: "官方编号",
  service: "职务成果", in_register: "单列管理", in_force: "挂牌中", outstanding: "未收清",
  correction_requested: "待补正", corrected: "已补正", below_floor: "低于下限", decision_recorded: "已记录集体决策",
  requested_on: "要求日期", details: "说明", milestone: "里程碑", period: "期间", new_due_dates: "新到期日",
  terms: "合同条款", sellers: "卖方", buyer: "买方", achievements: "科技成果", overdue_fen: "逾期金额",
  days_after_start: "开始后天数", credit_id: "预收款编号", item_id: "款项编号", position: "日志位置",
  entry_date: "记账日期", description: "摘要", exchange: "技术交易机构", end_reason: "终止原因",
  version_label: "版本", effective_from: "生效日期", key: "分配对象", paid_on: "支付日期", id: "编号",
};

/** Operation names, Chinese / English, for the buttons and form titles (others use the API's summary). */
export const OPERATIONS = {
  register_institution: W("登记机构", "Register an institution"),
  rename_institution: W("更名", "Rename"),
  change_rule_pack: W("更改适用规则", "Change rule pack"),
  set_enterprise_size: W("设置企业规模", "Set enterprise size"),
  register_achievement: W("登记科技成果", "Register an achievement"),
  list_on_exchange: W("挂牌", "List on an exchange"),
  delist: W("摘牌", "Delist"),
  record_patent_grant: W("记录授权", "Record a grant"),
  record_valuation: W("记录评估", "Record a valuation"),
  publish_notice: W("发布公示", "Publish a notice"),
  conclude_notice: W("公示办结", "Conclude the notice"),
  record_invention_bonus: W("发放职务发明奖金", "Pay the invention bonus"),
  draft_contract: W("起草合同", "Draft a contract"),
  amend_terms: W("修改条款", "Amend terms"),
  sign_contract: W("签订", "Sign"),
  register_contract: W("认定登记", "Register (认定登记)"),
  correct_registration: W("登记补正", "Correct the registration"),
  request_registration_correction: W("要求补正", "Request a correction"),
  take_effect: W("生效", "Take effect"),
  end_contract: W("终止", "End"),
  record_payment: W("记录收款", "Record a payment"),
  report_royalty: W("提成报告", "Report royalties"),
  reach_milestone: W("达成里程碑", "Reach a milestone"),
  defer_due_items: W("延期", "Defer due items"),
  write_off: W("核销", "Write off"),
  convert_to_paid: W("转为付费", "Convert to paid"),
  allocate_receipt: W("分配收入", "Allocate a receipt"),
  pay_award: W("发放奖励", "Pay an award"),
  publish_award_notice: W("奖励公示", "Publish an award notice"),
  adopt_distribution_policy: W("通过分配办法", "Adopt a distribution policy"),
  record_contribution_decision: W("记录集体决策", "Record the collective decision"),
  pay_self_implementation_award: W("发放自行实施奖励", "Pay a self-implementation award"),
};

/** Labels of enumerations the server has no Chinese for (domain/enums.py covers the rest). */
const EXTRA_ENUMS = {
  ContractStatus: { drafted: "草拟", signed: "已签订", in_force: "履行中", completed: "已履行完毕", terminated: "已终止",
    expired: "已到期" },
  Overpayment: { reject: "拒收超额部分", credit: "记为预收款" },
};

let serverLabels = {};

export async function loadLabels() {
  try {
    serverLabels = await enumLabels();
  } catch {
    serverLabels = {};
  }
}

/** The Chinese / raw label of an enumeration member; ``enumName`` as the OpenAPI schema's title. */
export function enumLabel(enumName, value) {
  if (value === null || value === undefined) return "";
  const zh = serverLabels[enumName]?.[value] ?? EXTRA_ENUMS[enumName]?.[value];
  return zh ? `${zh} (${value})` : String(value);
}

/** Find an enumeration by value when the name is unknown (list rows): the first that has it. */
export function enumLabelAny(candidates, value) {
  for (const name of candidates) {
    if (serverLabels[name]?.[value] ?? EXTRA_ENUMS[name]?.[value]) return enumLabel(name, value);
  }
  return value === null || value === undefined ? "" : String(value);
}

/** "中文 / English" of a field: the Chinese name above when known, and the schema's title. */
export function fieldLabel(name, title) {
  // Pydantic titles say "Contract Value Fen"; the page takes yuan and names records by picking them.
  const english = (title || name).replace(/ Fen$/, "").replace(/ Ids$/, "s").replace(/ Id$/, "");
  const zh = FIELDS[name];
  return zh ? W(zh, english) : W(english, "");
}

export function operationLabel(operationId, summary) {
  return OPERATIONS[operationId] || W(summary || operationId, operationId);
}
