// Bulk import (#/import) on the /v1/imports API: choose the kind, upload the file as the raw request body
// with a dry run first (POST /v1/imports?kind=…&dry_run=true), follow the job (GET /v1/imports/{job_id})
// until it is done, show its report rows {row, column, rule, message}, offer the report
// (…/report.xlsx) and the template (/v1/imports/templates/{kind}.xlsx), then import for real.
// Without that API on the server the page says so.

import { ApiError, request } from "./api.js";
import { bi, el } from "./dom.js";

const W = (zh, en) => ({ zh, en });
const KINDS = { payments: W("收款", "Payments"), achievements: W("科技成果", "Achievements"), contracts: W("技术合同", "Contracts") };
const RUNNING = new Set(["queued", "pending", "running", "started", "in_progress"]);

async function download(url, button) {
  button.disabled = true;
  try {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const disposition = response.headers.get("Content-Disposition") || "";
    const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || url.split("/").pop();
    const href = URL.createObjectURL(await response.blob());
    const link = el("a", { href, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 60000);
  } catch (error) {
    window.alert(error.message);
  } finally {
    button.disabled = false;
  }
}

function jobId(job) {
  return job?.job_id ?? job?.id;
}

function reportRows(job) {
  return job?.issues ?? job?.report?.rows ?? [];
}

export async function importPage() {
  const card = el("section", { className: "card", id: "import" }, el("h2", {}, bi(W("批量导入", "Bulk import"))));
  const kind = el("select", { id: "import-kind" }, ...Object.entries(KINDS).map(([k, label]) => el("option", { value: k, text: `${label.zh} / ${label.en}` })));
  const file = el("input", { type: "file", id: "import-file", accept: ".xlsx,.csv" });
  const template = el("button", { type: "button", id: "import-template" }, bi(W("下载模板", "Download the template")));
  const dry = el("button", { type: "button", className: "primary", id: "import-dry-run" }, bi(W("试导入（不写入）", "Dry run (writes nothing)")));
  const real = el("button", { type: "button", id: "import-real", hidden: true }, bi(W("正式导入", "Import for real")));
  const progress = el("p", { id: "import-progress", role: "status" });
  const report = el("div", { id: "import-report" });
  card.append(el("div", { className: "toolbar" }, el("label", {}, bi(W("类别", "Kind")), kind),
    el("label", {}, bi(W("文件", "File")), file), template), el("div", { className: "actions" }, dry, real), progress, report);
  template.addEventListener("click", () => download(`/v1/imports/templates/${kind.value}.xlsx`, template));

  async function run(dryRun) {
    const chosen = file.files?.[0];
    if (!chosen) {
      progress.textContent = "请选择文件 / choose a file";
      return;
    }
    dry.disabled = true;
    real.disabled = true;
    report.replaceChildren();
    try {
      const body = await chosen.arrayBuffer();
      const type = chosen.type || "application/octet-stream";
      const { doc: job } = await request("POST", `/v1/imports?kind=${kind.value}&dry_run=${dryRun}&lang=zh&file_name=${encodeURIComponent(chosen.name.slice(0, 200))}`,
        { body, raw: true, headers: { "Content-Type": type } });
      let current = job;
      while (RUNNING.has(String(current.status ?? current.state))) {
        progress.textContent = `${current.status ?? current.state} · ${current.done ?? 0}/${current.total || "?"}`;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        current = (await request("GET", `/v1/imports/${jobId(job)}`)).doc;
      }
      const s = current.summary;
      const summary = s ? ` · 有效 valid ${s.valid ?? 0} · 写入 written ${s.written ?? 0} · 已导入过 replayed ${s.replayed ?? 0}`
        + ` · 有误 failed ${s.failed ?? 0}` : "";
      progress.textContent = `${current.status ?? current.state}${dryRun ? " · 试导入 / dry run" : ""}${summary}${current.error ? ` · ${current.error}` : ""}`;
      const rows = reportRows(current);
      const head = el("tr", {}, ...["行 row", "列 column", "规则 rule", "说明 message"].map((k) => el("th", { text: k })));
      report.append(el("table", { id: "import-report-table" }, el("thead", {}, head),
        el("tbody", {}, ...rows.map((r) => el("tr", {}, ...["row", "column", "rule", "message"].map((k) => el("td", { text: String(r[k] ?? "") })))))));
      const reportButton = el("button", { type: "button", id: "import-report-download" }, bi(W("下载报告", "Download the report")));
      reportButton.addEventListener("click", () => download(`/v1/imports/${jobId(job)}/report.xlsx`, reportButton));
      report.append(el("div", { className: "actions" }, reportButton));
      real.hidden = !dryRun;
    } catch (error) {
      progress.textContent = error instanceof ApiError && error.status === 404
        ? "服务器尚未提供导入接口 / this server has no import API yet" : error.message;
    } finally {
      dry.disabled = false;
      real.disabled = false;
    }
  }
  dry.addEventListener("click", () => run(true));
  real.addEventListener("click", () => run(false));
  return card;
}
