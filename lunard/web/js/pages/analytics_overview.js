// Analytics overview (#!/analytics): every function over one window, busiest first, with the
// figures of GET /api/analytics/overview?window=; functions without executions in the window
// (absent from the report) are listed after them with zeros. Rows open the function's tab.
import { api } from "../api.js";
import { addStrings, t } from "../i18n.js";
import { Card, Spinner, formatTime } from "../ui.js";
import {
  TopErrors, TriggerSplit, WindowPicker, figures, fmtCount, fmtMs, fmtRate, routeWindow,
  setRouteWindow,
} from "./analytics_tab.js";

addStrings("en", {
  "analytics_overview.title": "Analytics",
  "analytics_overview.subtitle": "Every function over the chosen window, busiest first.",
  "analytics_overview.totals": "All functions",
  "analytics_overview.functions": "Functions",
  "analytics_overview.functionCount": "{{count}} functions with executions",
  "analytics_overview.name": "Function",
  "analytics_overview.lastExecution": "Last execution",
  "analytics_overview.never": "—",
  "analytics_overview.empty": "No functions yet.",
  "analytics_overview.sql": "SQL console",
  "analytics_overview.loadFailed": "Could not load analytics: {{error}}",
});
addStrings("pt-BR", {
  "analytics_overview.title": "Análises",
  "analytics_overview.subtitle": "Todas as funções na janela escolhida, as mais chamadas primeiro.",
  "analytics_overview.totals": "Todas as funções",
  "analytics_overview.functions": "Funções",
  "analytics_overview.functionCount": "{{count}} funções com execuções",
  "analytics_overview.name": "Função",
  "analytics_overview.lastExecution": "Última execução",
  "analytics_overview.never": "—",
  "analytics_overview.empty": "Nenhuma função ainda.",
  "analytics_overview.sql": "Console SQL",
  "analytics_overview.loadFailed": "Não foi possível carregar as análises: {{error}}",
});

const PAGE = 100; // the API's largest page (http-api §1.3)

/** Every function's {id, name, disabled}, page by page. */
async function allFunctions() {
  const out = [];
  for (let offset = 0; ; offset += PAGE) {
    const res = await api("GET", `/api/functions?limit=${PAGE}&offset=${offset}`);
    out.push(...res.functions);
    const total = res.pagination?.total ?? out.length;
    if (!res.functions.length || out.length >= total) return out;
  }
}

const ZERO = {
  invocations: 0, errors: 0, error_rate: 0,
  duration_ms: { p50: null, p95: null, p99: null, max: null, avg: null },
  triggers: { http: 0, cron: 0 }, last_execution_at: null,
};

/** Report rows (busiest first) followed by the functions that had no executions. */
function mergeRows(report, fns) {
  const names = new Map(fns.map((f) => [f.id, f.name]));
  const seen = new Set();
  const rows = report.functions.map((r) => {
    seen.add(r.function_id);
    return { ...r, name: r.name ?? names.get(r.function_id) ?? r.function_id };
  });
  const idle = fns
    .filter((f) => !seen.has(f.id))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((f) => ({ ...ZERO, function_id: f.id, name: f.name }));
  return rows.concat(idle);
}

const Row = {
  view: ({ attrs: { row, win } }) => {
    const href = `#!/functions/${encodeURIComponent(row.function_id)}/analytics?window=${win}`;
    const d = row.duration_ms;
    const cell = (sel, value, testid) => m(sel, testid ? { "data-testid": testid } : {}, value);
    return m("tr.clickable", {
      "data-testid": "overview-row",
      "data-fn-id": row.function_id,
      onclick: (e) => {
        if (e.target.closest("a")) return;
        m.route.set(href.slice(2));
      },
    }, [
      m("td.mono", m("a", { href, "data-testid": "overview-link" }, row.name)),
      cell("td.num", fmtCount(row.invocations), "overview-calls"),
      cell("td.num", fmtCount(row.errors)),
      m("td.num", { class: row.errors ? "danger" : "" }, fmtRate(row.error_rate)),
      cell("td.num", fmtMs(d.p50)),
      cell("td.num", fmtMs(d.p95), "overview-p95"),
      cell("td.num", fmtMs(d.p99)),
      cell("td.num", fmtMs(d.max)),
      cell("td.num", `${fmtCount(row.triggers.http)} / ${fmtCount(row.triggers.cron)}`),
      cell("td", row.last_execution_at ? formatTime(row.last_execution_at) : t("analytics_overview.never")),
    ]);
  },
};

function AnalyticsOverview() {
  let report = null;
  let fns = [];
  let error = null;
  let loaded = null;

  async function load(w) {
    loaded = w;
    error = null;
    try {
      const [r, f] = await Promise.all([
        api("GET", `/api/analytics/overview?window=${w}`),
        allFunctions(),
      ]);
      if (loaded === w) {
        report = r;
        fns = f;
      }
    } catch (err) {
      if (loaded === w) error = err.message || String(err);
    }
    m.redraw();
  }

  function table(w) {
    const rows = mergeRows(report, fns);
    if (!rows.length) return m("p.muted", t("analytics_overview.empty"));
    return m(".table-wrap", m("table.table.analytics-overview", { "data-testid": "overview-table" }, [
      m("thead", m("tr", [
        m("th", t("analytics_overview.name")),
        m("th.num", t("analytics.calls")),
        m("th.num", t("analytics.errors")),
        m("th.num", t("analytics.errorRate")),
        m("th.num", t("analytics.p50")),
        m("th.num", t("analytics.p95")),
        m("th.num", t("analytics.p99")),
        m("th.num", t("analytics.max")),
        m("th.num", `${t("analytics.http")} / ${t("analytics.cron")}`),
        m("th", t("analytics_overview.lastExecution")),
      ])),
      m("tbody", rows.map((row) => m(Row, { key: row.function_id, row, win: w }))),
    ]));
  }

  function content(w) {
    if (error) return m("p.error-text", { role: "alert" }, t("analytics_overview.loadFailed", { error }));
    if (!report || report.window !== w) return m(Spinner);
    const totals = report.totals;
    return [
      m(Card, {
        title: t("analytics_overview.totals"),
        subtitle: t("analytics_overview.functionCount", { count: fmtCount(totals.functions) }),
      }, [
        figures(totals, { calls: "overview-total-calls", p95: "overview-total-p95" }),
        m(TriggerSplit, { triggers: totals.triggers }),
      ]),
      m(Card, { title: t("analytics_overview.functions"), flush: true }, table(w)),
      m(Card, { title: t("analytics.topErrors"), flush: totals.top_errors.length > 0 },
        m(TopErrors, { errors: totals.top_errors })),
    ];
  }

  return {
    oninit: () => load(routeWindow()),
    onbeforeupdate: () => {
      if (loaded !== routeWindow()) load(routeWindow());
    },
    view: () => {
      const w = routeWindow();
      return m(".page.analytics-page", [
        m(".page-head", [
          m("div", [
            m("h1", t("analytics_overview.title")),
            m("p.subtitle.muted", t("analytics_overview.subtitle")),
          ]),
          m(".analytics-toolbar", [
            m(WindowPicker, { value: w, onchange: setRouteWindow }),
            m(m.route.Link, { href: "/sql", class: "btn small", "data-testid": "overview-sql" },
              t("analytics_overview.sql")),
          ]),
        ]),
        content(w),
      ]);
    },
  };
}

export default AnalyticsOverview;
