// Execution detail: error, input event, saved response (sandboxed HTML preview), AI and
// email requests and logs, each list paginated on its own.
import {api, pageQuery} from "../api.js";
import {t, addStrings} from "../i18n.js";
import {Badge, Card, ErrorState, IdBadge, Pagination, Spinner, StatusBadge, formatDuration,
  formatTime, prettyJson, truncate} from "../ui.js";
import {CodeViewer} from "../editor.js";

addStrings("en", {
  "execution.title": "Execution Details",
  "execution.back": "Back to executions",
  "execution.error": "Execution Error",
  "execution.event": "Input Event (JSON)",
  "execution.response": "HTTP Response",
  "execution.responseBody": "Response Body",
  "execution.htmlPreview": "HTML Preview",
  "execution.preview": "Preview",
  "execution.code": "Code",
  "execution.previewNote": "Rendered in a sandbox: its scripts and <style> blocks are off (see Code for the exact HTML).",
  "execution.switchPreview": "Switch to preview",
  "execution.switchCode": "Switch to code",
  "execution.ai": "AI Requests",
  "execution.aiCount": "{{count}} API calls",
  "execution.email": "Email Requests",
  "execution.emailCount": "{{count}} emails sent",
  "execution.logs": "Execution Logs",
  "execution.logCount": "{{count}} log entries",
  "execution.noLogs": "No logs available",
  "execution.noAi": "No AI requests",
  "execution.noEmail": "No emails sent",
  "execution.provider": "Provider", "execution.model": "Model", "execution.status": "Status",
  "execution.tokens": "Tokens", "execution.duration": "Duration", "execution.time": "Time",
  "execution.tokensValue": "{{in}} in / {{out}} out",
  "execution.to": "To", "execution.subject": "Subject", "execution.type": "Type",
  "execution.from": "From", "execution.emailId": "Email ID", "execution.errorMessage": "Error",
  "execution.request": "Request", "execution.responseJson": "Response",
});
addStrings("pt-BR", {
  "execution.title": "Detalhes da execução",
  "execution.back": "Voltar às execuções",
  "execution.error": "Erro de execução",
  "execution.event": "Evento de entrada (JSON)",
  "execution.response": "Resposta HTTP",
  "execution.responseBody": "Corpo da resposta",
  "execution.htmlPreview": "Pré-visualização HTML",
  "execution.preview": "Visualizar",
  "execution.code": "Código",
  "execution.previewNote": "Exibido em sandbox: scripts e blocos <style> desativados (veja Código para o HTML exato).",
  "execution.switchPreview": "Mudar para visualização",
  "execution.switchCode": "Mudar para código",
  "execution.ai": "Requisições de IA",
  "execution.aiCount": "{{count}} chamadas de API",
  "execution.email": "Requisições de e-mail",
  "execution.emailCount": "{{count}} e-mails enviados",
  "execution.logs": "Logs da execução",
  "execution.logCount": "{{count}} entradas de log",
  "execution.noLogs": "Nenhum log disponível",
  "execution.noAi": "Nenhuma requisição de IA",
  "execution.noEmail": "Nenhum e-mail enviado",
  "execution.provider": "Provedor", "execution.model": "Modelo", "execution.status": "Status",
  "execution.tokens": "Tokens", "execution.duration": "Duração", "execution.time": "Horário",
  "execution.tokensValue": "{{in}} entrada / {{out}} saída",
  "execution.to": "Para", "execution.subject": "Assunto", "execution.type": "Tipo",
  "execution.from": "De", "execution.emailId": "ID do e-mail", "execution.errorMessage": "Erro",
  "execution.request": "Requisição", "execution.responseJson": "Resposta",
});

// "description [CODE] snippet [/CODE] tip" -> parts, blank edge lines of the snippet trimmed.
export function splitError(message) {
  const start = message.indexOf("[CODE]");
  const end = message.indexOf("[/CODE]");
  if (start < 0 || end < start) return {description: message.trim(), code: "", tip: ""};
  const lines = message.slice(start + 6, end).split("\n");
  while (lines.length && !lines[0].trim()) lines.shift();
  while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
  return {
    description: message.slice(0, start).trim(),
    code: lines.join("\n"),
    tip: message.slice(end + 7).trim(),
  };
}

const ErrorPanel = {
  view: ({attrs: {message}}) => {
    const parts = splitError(message);
    return m(Card, {title: t("execution.error"), class: "error-card", testid: "exec-error"}, [
      m("pre.error-description", parts.description),
      parts.code && m(CodeViewer, {language: "lua", value: parts.code, class: "error-code"}),
      parts.tip && m("p.error-tip", parts.tip),
    ]);
  },
};

function headerValue(headers, name) {
  if (!headers || typeof headers !== "object") return "";
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key ? String(headers[key]) : "";
}

const ResponsePanel = {
  oninit: ({state}) => {
    state.mode = "preview";
    state.setMode = (mode) => { state.mode = mode; m.redraw(); };
  },
  oncreate: ({state, attrs}) => {
    // While an HTML preview is shown, the palette can switch it to preview or code.
    if (!attrs.responseJson.includes("text/html")) return;
    import("../palette.js").then((mod) => {
      if (state.removed) return;
      state.unregister = mod.registerCommands(state, [
        {id: "preview-html", label: t("execution.switchPreview"), run: () => state.setMode("preview")},
        {id: "preview-code", label: t("execution.switchCode"), run: () => state.setMode("code")},
      ]);
    }).catch((err) => console.warn("palette commands unavailable:", err.message));
  },
  onremove: ({state}) => {
    state.removed = true;
    if (state.unregister) state.unregister();
  },
  view: ({attrs: {responseJson}, state}) => {
    let response = null;
    try { response = JSON.parse(responseJson); } catch { /* shown raw */ }
    const type = response ? headerValue(response.headers, "content-type") : "";
    const body = response && typeof response.body === "string" ? response.body : "";
    const panels = [m(Card, {title: t("execution.response"), testid: "exec-response"},
      m("pre.json", prettyJson(responseJson)))];
    if (type.includes("text/html")) {
      panels.push(m(Card, {title: t("execution.htmlPreview"), testid: "exec-html-preview", actions: [
        m("button.btn.small", {class: state.mode === "preview" ? "primary" : "",
          onclick: () => { state.mode = "preview"; }}, t("execution.preview")),
        m("button.btn.small", {class: state.mode === "code" ? "primary" : "",
          onclick: () => { state.mode = "code"; }}, t("execution.code")),
      ]}, state.mode === "preview"
        ? [m("iframe.html-preview", {sandbox: "", srcdoc: body, title: t("execution.htmlPreview"),
          referrerpolicy: "no-referrer"}), m("p.muted.small", t("execution.previewNote"))]
        : m("pre.json", body)));
    } else if (type.includes("application/json")) {
      panels.push(m(Card, {title: t("execution.responseBody")}, m("pre.json", prettyJson(body))));
    }
    return panels;
  },
};

// One paginated sub-list of the execution (logs, AI requests, email requests).
function pagedList(path, key) {
  return {
    oninit: ({attrs, state}) => {
      state.limit = 20;
      state.offset = 0;
      state.load = async () => {
        try {
          state.data = await api("GET", `/api/executions/${encodeURIComponent(attrs.id)}/${path}?${pageQuery(state.limit, state.offset)}`);
          state.error = null;
        } catch (err) { state.error = err; }
        m.redraw();
      };
      state.load();
    },
    view: ({state, attrs}) => {
      if (state.error) return m(Card, {title: attrs.title}, m(ErrorState, {message: state.error.message, onretry: state.load}));
      if (!state.data) return m(Card, {title: attrs.title}, m(Spinner));
      const items = state.data[key] || [];
      const total = state.data.pagination.total;
      return m(Card, {title: attrs.title, subtitle: attrs.count(total), testid: attrs.testid, flush: true}, [
        attrs.render(items),
        m(Pagination, {total, limit: state.limit, offset: state.offset,
          onchange: (limit, offset) => { state.limit = limit; state.offset = offset; state.load(); }}),
      ]);
    },
  };
}

const Logs = pagedList("logs", "logs");
const AiRequests = pagedList("ai-requests", "ai_requests");
const EmailRequests = pagedList("email-requests", "email_requests");

const renderLogs = (logs) => logs.length
  ? m("ul.log-list", {"data-testid": "exec-logs"}, logs.map((log, i) => m("li.log-entry", {key: i}, [
    m("span.level-pill", {class: (log.level || "info").toLowerCase()}, (log.level || "info").toUpperCase()),
    m("span.log-time.muted.mono", formatTime(log.created_at, "time")),
    m("pre.log-message", log.message),
  ])))
  : m("p.muted.pad", {"data-testid": "exec-logs"}, t("execution.noLogs"));

// An expandable table: clicking a row shows its details below it.
const ExpandTable = {
  oninit: ({state}) => { state.open = null; },
  view: ({attrs, state}) => m(".table-wrap", m("table.table.clickable", [
    m("thead", m("tr", attrs.columns.map((c) => m("th", c)))),
    m("tbody", attrs.rows.flatMap((row) => {
      const open = state.open === row.id;
      return [
        m("tr", {key: row.id, onclick: () => { state.open = open ? null : row.id; }, "aria-expanded": String(open)},
          attrs.cells(row).map((c) => m("td", c))),
        open && m("tr.detail-row", {key: `${row.id}-detail`}, m("td", {colspan: attrs.columns.length}, attrs.detail(row))),
      ];
    })),
  ])),
};

const jsonBlock = (label, text) => text && m(".json-block", [m("h4", label), m("pre.json", truncate(prettyJson(text)))]);

const renderAi = (rows) => rows.length ? m(ExpandTable, {
  rows,
  columns: [t("execution.provider"), t("execution.model"), t("execution.status"), t("execution.tokens"),
    t("execution.duration"), t("execution.time")],
  cells: (r) => [m(Badge, {kind: "info"}, (r.provider || "").toUpperCase()), m("span.mono", r.model),
    m(StatusBadge, {status: r.status}),
    t("execution.tokensValue", {in: r.input_tokens ?? 0, out: r.output_tokens ?? 0}),
    formatDuration(r.duration_ms), formatTime(r.created_at)],
  detail: (r) => [r.error_message && m("p.error-text", r.error_message),
    jsonBlock(t("execution.request"), r.request_json), jsonBlock(t("execution.responseJson"), r.response_json)],
}) : m("p.muted.pad", t("execution.noAi"));

const emailType = (r) => (r.has_html && r.has_text ? "HTML+Text" : r.has_html ? "HTML" : "Text");

const renderEmail = (rows) => rows.length ? m(ExpandTable, {
  rows,
  columns: [t("execution.to"), t("execution.subject"), t("execution.status"), t("execution.type"),
    t("execution.duration"), t("execution.time")],
  cells: (r) => {
    const to = r.to || [];
    return [[to[0] || "", to.length > 1 ? m("span.muted", ` +${to.length - 1}`) : null], r.subject,
      m(StatusBadge, {status: r.status}), emailType(r), formatDuration(r.duration_ms), formatTime(r.created_at)];
  },
  detail: (r) => [
    r.error_message && m("p.error-text", `${t("execution.errorMessage")}: ${r.error_message}`),
    m("dl.kv-list", [
      m("dt", t("execution.from")), m("dd.mono", r.from),
      m("dt", t("execution.to")), m("dd.mono", (r.to || []).join(", ")),
      r.email_id && [m("dt", t("execution.emailId")), m("dd.mono", r.email_id)],
    ]),
    jsonBlock(t("execution.request"), r.request_json), jsonBlock(t("execution.responseJson"), r.response_json),
  ],
}) : m("p.muted.pad", t("execution.noEmail"));

export default {
  oninit: ({attrs, state}) => {
    state.load = async () => {
      try {
        state.ex = await api("GET", `/api/executions/${encodeURIComponent(attrs.id)}`);
        state.error = null;
        m.redraw();
        state.fn = await api("GET", `/api/functions/${encodeURIComponent(state.ex.function_id)}`).catch(() => null);
      } catch (err) { state.error = err; }
      m.redraw();
    };
    state.load();
  },
  view: ({attrs, state}) => {
    if (state.error) return m(".page", m(ErrorState, {message: state.error.message, onretry: state.load}));
    const ex = state.ex;
    if (!ex) return m(".page", m(Spinner));
    return m(".page.execution-page", {key: attrs.id}, [
      m(".fn-header", [
        m(m.route.Link, {href: `/functions/${ex.function_id}/executions`, class: "btn small back-btn",
          "aria-label": t("execution.back"), "data-testid": "exec-back"}, "←"),
        m(".fn-title", [
          m("p.muted.small", t("execution.title")),
          m(".fn-title-row", [
            m("h1.fn-name.mono", state.fn ? state.fn.name : ex.function_id),
            m(IdBadge, {id: ex.function_id}),
            m(Badge, {kind: "outline", title: ex.id}, `exec: ${ex.id.slice(0, 8)}`),
            m("span", {"data-testid": "exec-detail-status", "data-status": ex.status}, m(StatusBadge, {status: ex.status})),
            m(Badge, {kind: "muted"}, formatDuration(ex.duration_ms)),
            m("span.muted.small", formatTime(ex.created_at)),
          ]),
        ]),
      ]),
      ex.status === "error" && ex.error_message && m(ErrorPanel, {message: ex.error_message}),
      m(Card, {title: t("execution.event"), testid: "exec-event"}, m("pre.json", prettyJson(ex.event_json))),
      ex.response_json && m(ResponsePanel, {responseJson: ex.response_json}),
      m(AiRequests, {id: ex.id, title: t("execution.ai"), count: (n) => t("execution.aiCount", {count: n}), render: renderAi}),
      m(EmailRequests, {id: ex.id, title: t("execution.email"), count: (n) => t("execution.emailCount", {count: n}), render: renderEmail}),
      m(Logs, {id: ex.id, title: t("execution.logs"), count: (n) => t("execution.logCount", {count: n}), render: renderLogs, testid: "exec-logs-card"}),
    ]);
  },
};
