// SQL console (#!/sql): one read-only SELECT over the execution records through
// POST /api/analytics/query {sql, limit, timeout}; results as a table, refusals show the
// server's error text, the answer downloads as CSV (built here, Blob + object URL).
import { api } from "../api.js";
import { addStrings, lang, t } from "../i18n.js";
import { Card, Spinner, loadStyle, toast } from "../ui.js";
import { createEditor } from "../editor.js";

addStrings("en", {
  "sql.title": "SQL console",
  "sql.subtitle": "One read-only SELECT over the execution records.",
  "sql.tables": "Tables",
  "sql.tableHint": "Click a table to query it; DESCRIBE <table> lists its columns.",
  "sql.query": "Query",
  "sql.run": "Run",
  "sql.running": "Running…",
  "sql.shortcut": "Ctrl+Enter runs the query",
  "sql.rowLimit": "Row limit",
  "sql.timeLimit": "Time limit (s)",
  "sql.limits": "At most {{rows}} rows, stopped after {{seconds}} s.",
  "sql.result": "Result",
  "sql.summary": "{{count}} rows in {{ms}} ms",
  "sql.summaryOne": "1 row in {{ms}} ms",
  "sql.truncated": "Truncated: the row limit was reached.",
  "sql.noRows": "The query returned no rows.",
  "sql.csv": "Download CSV",
  "sql.notRun": "Write a SELECT and press Run.",
  "sql.highlight": "Syntax highlighting",
  "sql.editorFailed": "The editor could not be loaded: {{error}}",
});
addStrings("pt-BR", {
  "sql.title": "Console SQL",
  "sql.subtitle": "Um SELECT somente leitura sobre os registros de execução.",
  "sql.tables": "Tabelas",
  "sql.tableHint": "Clique numa tabela para consultá-la; DESCRIBE <tabela> lista suas colunas.",
  "sql.query": "Consulta",
  "sql.run": "Executar",
  "sql.running": "Executando…",
  "sql.shortcut": "Ctrl+Enter executa a consulta",
  "sql.rowLimit": "Limite de linhas",
  "sql.timeLimit": "Limite de tempo (s)",
  "sql.limits": "No máximo {{rows}} linhas, interrompida após {{seconds}} s.",
  "sql.result": "Resultado",
  "sql.summary": "{{count}} linhas em {{ms}} ms",
  "sql.summaryOne": "1 linha em {{ms}} ms",
  "sql.truncated": "Truncado: o limite de linhas foi atingido.",
  "sql.noRows": "A consulta não retornou linhas.",
  "sql.csv": "Baixar CSV",
  "sql.notRun": "Escreva um SELECT e clique em Executar.",
  "sql.highlight": "Realce de sintaxe",
  "sql.editorFailed": "Não foi possível carregar o editor: {{error}}",
});

loadStyle(new URL("../../css/pages/sql.css", import.meta.url).href).catch((err) => console.warn(err));

const TABLES = ["executions", "logs", "ai_requests", "email_requests"];
const MAX_ROWS = 10000; // lunard.records.sql_runner.MAX_ROW_LIMIT
const MAX_SECONDS = 10; // lunard.records.sql_runner.DEFAULT_TIME_LIMIT (also the maximum)
const STORE_KEY = "lunard-sql-query";
const EDITOR_KEY = "lunard-sql-editor"; // "1": the highlighting editor instead of the textarea
const DEFAULT_SQL =
  "SELECT function_id, count(*) AS calls,\n" +
  "       count(*) FILTER (status = 'error') AS errors,\n" +
  "       quantile_disc(duration_ms, 0.95) AS p95_ms\n" +
  "FROM executions\nGROUP BY function_id\nORDER BY calls DESC";

/** A cell as text: NULL stays distinguishable, nested values are JSON. */
function cellText(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** RFC 4180 CSV of a query answer (CRLF line ends, quoted when needed, NULL as empty). */
export function toCsv(columns, rows) {
  const quote = (v) => {
    const s = cellText(v) ?? "";
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const lines = [columns.map((c) => quote(c.name)), ...rows.map((r) => r.map(quote))];
  return lines.map((l) => l.join(",")).join("\r\n") + "\r\n";
}

function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

function clamp(value, lo, hi, fallback) {
  const n = Number(value);
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : fallback;
}

const ResultTable = {
  view: ({ attrs: { result } }) =>
    m(".table-wrap.sql-table-wrap", m("table.table.sql-result", { "data-testid": "sql-result" }, [
      m("thead", m("tr", result.columns.map((c) =>
        m("th", { title: c.type }, [m("span", c.name), m("span.sql-type", c.type)])))),
      m("tbody", result.rows.map((row) =>
        m("tr", row.map((v) => {
          const text = cellText(v);
          return text === null ? m("td.sql-null", "NULL") : m("td", { class: typeof v === "number" ? "num" : "" }, text);
        })))),
    ])),
};

function SqlConsole() {
  let sql = localStorage.getItem(STORE_KEY) || DEFAULT_SQL;
  let limit = 1000;
  let timeout = MAX_SECONDS;
  let running = false;
  let result = null;
  let error = null;
  let useEditor = localStorage.getItem(EDITOR_KEY) === "1";
  let editor = null;

  // The CodeMirror editor is opt-in: the plain textarea (the default) is what scripts fill.
  const EditorHost = {
    oncreate: ({ dom }) => {
      createEditor(dom, {
        language: "sql", value: sql, label: t("sql.query"), onRun: run,
        onChange: (value) => { sql = value; m.redraw(); },
      }).then((ed) => {
        if (!dom.isConnected) return ed.destroy();
        editor = ed;
        ed.focus();
      }).catch((err) => {
        setEditor(false);
        toast(t("sql.editorFailed", { error: err.message || String(err) }), "error");
      });
    },
    onremove: () => {
      editor?.destroy();
      editor = null;
    },
    view: () => m(".sql-editor", { "data-testid": "sql-editor" }),
  };

  function setEditor(on) {
    useEditor = on;
    localStorage.setItem(EDITOR_KEY, on ? "1" : "0");
    m.redraw();
  }

  async function run() {
    if (running || !sql.trim()) return;
    running = true;
    error = null;
    localStorage.setItem(STORE_KEY, sql);
    m.redraw();
    try {
      result = await api("POST", "/api/analytics/query", { sql, limit, timeout });
    } catch (err) {
      result = null;
      error = err.message || String(err);
    } finally {
      running = false;
      m.redraw();
    }
  }

  function onkeydown(e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  }

  function useTable(name) {
    sql = `SELECT *\nFROM ${name}\nORDER BY 1 DESC\nLIMIT 100`;
    editor?.setValue(sql);
  }

  function resultView() {
    if (running) return m(Spinner);
    if (error) return m("pre.sql-error", { "data-testid": "sql-error", role: "alert" }, error);
    if (!result) return m("p.muted", t("sql.notRun"));
    const summary = t(result.row_count === 1 ? "sql.summaryOne" : "sql.summary", {
      count: result.row_count.toLocaleString(lang()),
      ms: result.elapsed_ms.toLocaleString(lang(), { maximumFractionDigits: 1 }),
    });
    return [
      m(".sql-result-bar", [
        m("span", { "data-testid": "sql-summary" }, summary),
        result.truncated ? m("span.badge.warn", { "data-testid": "sql-truncated" }, t("sql.truncated")) : null,
        m("button.btn.small", {
          type: "button",
          "data-testid": "sql-csv",
          onclick: () => download(`lunard-query-${Date.now()}.csv`, toCsv(result.columns, result.rows)),
        }, t("sql.csv")),
      ]),
      result.rows.length ? m(ResultTable, { result }) : m("p.muted", { "data-testid": "sql-result" }, t("sql.noRows")),
    ];
  }

  return {
    view: () =>
      m(".page.sql-page", [
        m(".page-head", m("div", [m("h1", t("sql.title")), m("p.subtitle.muted", t("sql.subtitle"))])),
        m(".sql-grid", [
          m(Card, { title: t("sql.query") }, [
            useEditor ? m(EditorHost) : m("textarea.sql-input.mono", {
              "data-testid": "sql-input",
              "aria-label": t("sql.query"),
              spellcheck: false,
              rows: 10,
              value: sql,
              oninput: (e) => { sql = e.target.value; },
              onkeydown,
            }),
            m(".sql-controls", [
              m("label.sql-limit", [
                t("sql.rowLimit"),
                m("input.input", {
                  type: "number", min: 1, max: MAX_ROWS, step: 1, value: limit,
                  "data-testid": "sql-limit",
                  onchange: (e) => { limit = clamp(Math.round(e.target.value), 1, MAX_ROWS, 1000); e.target.value = limit; },
                }),
              ]),
              m("label.sql-limit", [
                t("sql.timeLimit"),
                m("input.input", {
                  type: "number", min: 0.1, max: MAX_SECONDS, step: 0.1, value: timeout,
                  "data-testid": "sql-timeout",
                  onchange: (e) => { timeout = clamp(e.target.value, 0.1, MAX_SECONDS, MAX_SECONDS); e.target.value = timeout; },
                }),
              ]),
              m("span.muted.sql-limits", { "data-testid": "sql-limits" },
                t("sql.limits", { rows: limit.toLocaleString(lang()), seconds: timeout })),
              m("button.btn.primary", {
                type: "button", "data-testid": "sql-run", disabled: running || !sql.trim(), onclick: run,
                title: t("sql.shortcut"),
              }, running ? t("sql.running") : t("sql.run")),
            ]),
            m(".sql-hint", [
              m("span.muted", t("sql.shortcut")),
              m("label.sql-toggle", [
                m("input", {
                  type: "checkbox", checked: useEditor, "data-testid": "sql-editor-toggle",
                  onchange: (e) => setEditor(e.target.checked),
                }),
                t("sql.highlight"),
              ]),
            ]),
          ]),
          m(Card, { title: t("sql.tables") }, [
            m("ul.sql-tables", TABLES.map((name) =>
              m("li", m("button.btn.small.mono", {
                type: "button", "data-testid": `sql-table-${name}`, onclick: () => useTable(name),
              }, name)))),
            m("p.muted", t("sql.tableHint")),
          ]),
        ]),
        m(Card, { title: t("sql.result") }, resultView()),
      ]),
  };
}

export default SqlConsole;
