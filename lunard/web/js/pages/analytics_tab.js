// Analytics tab of one function (#!/functions/:id/analytics): the canned report of
// GET /api/functions/{id}/analytics?window=, a uPlot chart of calls/errors/p95 per bucket,
// top errors (each linking to its latest execution) and the http/cron split.
// Also exports the small helpers the overview page shares (window picker, formatting,
// lazy loading of uPlot and of this family's stylesheet).
import { api } from "../api.js";
import { addStrings, lang, t } from "../i18n.js";
import { Card, EmptyState, Spinner, formatDuration, formatTime, loadScript, loadStyle } from "../ui.js";
import { UPLOT_CSS, UPLOT_JS } from "../vendor.js";

addStrings("en", {
  "analytics.title": "Analytics",
  "analytics.summary": "Last {{window}}",
  "analytics.time": "Time",
  "analytics.window": "Window",
  "analytics.windows.1h": "1 hour",
  "analytics.windows.24h": "24 hours",
  "analytics.windows.7d": "7 days",
  "analytics.windows.30d": "30 days",
  "analytics.calls": "Calls",
  "analytics.errors": "Errors",
  "analytics.errorRate": "Error rate",
  "analytics.errorCount": "{{count}} errors",
  "analytics.p50": "p50",
  "analytics.p95": "p95",
  "analytics.p99": "p99",
  "analytics.max": "Max",
  "analytics.avg": "Average",
  "analytics.perMinute": "{{rate}} / min average, peak {{peak}} / min",
  "analytics.chartTitle": "Calls, errors and p95 per {{unit}}",
  "analytics.unitMinute": "minute",
  "analytics.unitHour": "hour",
  "analytics.p95Series": "p95 (ms)",
  "analytics.p95Window": "p95 of the window (ms)",
  "analytics.chartLoading": "Loading chart…",
  "analytics.chartFailed": "The chart library could not be loaded.",
  "analytics.triggers": "Triggers",
  "analytics.http": "HTTP",
  "analytics.cron": "Cron",
  "analytics.topErrors": "Top errors",
  "analytics.noErrors": "No errors in this window.",
  "analytics.message": "Message",
  "analytics.count": "Count",
  "analytics.latest": "Latest",
  "analytics.viewExecution": "View latest execution",
  "analytics.empty": "No executions in this window. Call the function or pick a longer window.",
  "analytics.lastExecution": "Last execution: {{time}}",
  "analytics.loadFailed": "Could not load analytics: {{error}}",
  "analytics.refresh": "Refresh",
});
addStrings("pt-BR", {
  "analytics.title": "Análises",
  "analytics.summary": "Janela de {{window}}",
  "analytics.time": "Horário",
  "analytics.window": "Janela",
  "analytics.windows.1h": "1 hora",
  "analytics.windows.24h": "24 horas",
  "analytics.windows.7d": "7 dias",
  "analytics.windows.30d": "30 dias",
  "analytics.calls": "Chamadas",
  "analytics.errors": "Erros",
  "analytics.errorRate": "Taxa de erro",
  "analytics.errorCount": "{{count}} erros",
  "analytics.p50": "p50",
  "analytics.p95": "p95",
  "analytics.p99": "p99",
  "analytics.max": "Máximo",
  "analytics.avg": "Média",
  "analytics.perMinute": "média de {{rate}} / min, pico de {{peak}} / min",
  "analytics.chartTitle": "Chamadas, erros e p95 por {{unit}}",
  "analytics.unitMinute": "minuto",
  "analytics.unitHour": "hora",
  "analytics.p95Series": "p95 (ms)",
  "analytics.p95Window": "p95 da janela (ms)",
  "analytics.chartLoading": "Carregando gráfico…",
  "analytics.chartFailed": "Não foi possível carregar a biblioteca de gráficos.",
  "analytics.triggers": "Gatilhos",
  "analytics.http": "HTTP",
  "analytics.cron": "Cron",
  "analytics.topErrors": "Erros mais frequentes",
  "analytics.noErrors": "Nenhum erro nesta janela.",
  "analytics.message": "Mensagem",
  "analytics.count": "Quantidade",
  "analytics.latest": "Mais recente",
  "analytics.viewExecution": "Ver a execução mais recente",
  "analytics.empty": "Nenhuma execução nesta janela. Chame a função ou escolha uma janela maior.",
  "analytics.lastExecution": "Última execução: {{time}}",
  "analytics.loadFailed": "Não foi possível carregar as análises: {{error}}",
  "analytics.refresh": "Atualizar",
});

export const WINDOWS = ["1h", "24h", "7d", "30d"];
export const DEFAULT_WINDOW = "24h";

loadStyle(new URL("../../css/pages/analytics.css", import.meta.url).href).catch((err) => console.warn(err));

/** The global `uPlot`, loading the vendored script and stylesheet on first use. */
export function loadUPlot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  loadStyle(UPLOT_CSS).catch((err) => console.warn(err));
  return loadScript(UPLOT_JS).then(() => window.uPlot);
}

/** The window named in the route (`?window=`), or the default. */
export function routeWindow() {
  const w = m.route.param("window");
  return WINDOWS.includes(w) ? w : DEFAULT_WINDOW;
}

/** Change the route's `?window=` (kept in the URL so a view can be linked and reloaded). */
export function setRouteWindow(w) {
  const [path, query] = m.route.get().split("?");
  const params = new URLSearchParams(query || "");
  params.set("window", w);
  m.route.set(`${path}?${params}`, null, { replace: true });
}

export const WindowPicker = {
  view: ({ attrs }) =>
    m(".analytics-windows", { role: "group", "aria-label": t("analytics.window") },
      WINDOWS.map((w) =>
        m("button.btn.small", {
          type: "button",
          class: w === attrs.value ? "primary active" : "",
          "aria-pressed": String(w === attrs.value),
          "data-testid": `analytics-window-${w}`,
          onclick: () => attrs.onchange(w),
        }, w),
      ),
    ),
};

export function fmtCount(n) {
  return (n ?? 0).toLocaleString(lang());
}

/** Small rates keep two significant digits (0.0035 / min), larger ones two decimals. */
function fmtRatePerMinute(n) {
  const opts = n > 0 && n < 1 ? { maximumSignificantDigits: 2 } : { maximumFractionDigits: 2 };
  return n.toLocaleString(lang(), opts);
}

export function fmtRate(rate) {
  return `${((rate ?? 0) * 100).toFixed(1)}%`;
}

export function fmtMs(ms) {
  return ms === null || ms === undefined ? "—" : formatDuration(ms);
}

/** One figure: label, big value (with a testid and the raw value), optional sub-line. */
export const Figure = {
  view: ({ attrs }) =>
    m(".analytics-figure", { class: attrs.warn ? "warn" : "" }, [
      m(".analytics-figure-label", attrs.label),
      m(".analytics-figure-value", {
        "data-testid": attrs.testid,
        "data-value": attrs.raw ?? "",
      }, attrs.value),
      attrs.sub ? m(".analytics-figure-sub", attrs.sub) : null,
    ]),
};

/** The figures shared by the tab and the overview's totals. */
export function figures(report, testids = {}) {
  const d = report.duration_ms || {};
  return m(".analytics-figures", [
    m(Figure, {
      label: t("analytics.calls"), value: fmtCount(report.invocations),
      raw: report.invocations, testid: testids.calls,
    }),
    m(Figure, {
      label: t("analytics.errorRate"), value: fmtRate(report.error_rate),
      raw: report.error_rate, warn: report.errors > 0, testid: testids.errorRate,
      sub: t("analytics.errorCount", { count: fmtCount(report.errors) }),
    }),
    m(Figure, { label: t("analytics.p50"), value: fmtMs(d.p50), raw: d.p50, testid: testids.p50 }),
    m(Figure, { label: t("analytics.p95"), value: fmtMs(d.p95), raw: d.p95, testid: testids.p95 }),
    m(Figure, { label: t("analytics.p99"), value: fmtMs(d.p99), raw: d.p99, testid: testids.p99 }),
    m(Figure, {
      label: t("analytics.max"), value: fmtMs(d.max), raw: d.max, testid: testids.max,
      sub: d.avg === null || d.avg === undefined ? null : `${t("analytics.avg")} ${fmtMs(d.avg)}`,
    }),
  ]);
}

export const TriggerSplit = {
  view: ({ attrs }) => {
    const { http = 0, cron = 0 } = attrs.triggers || {};
    const total = http + cron;
    const pct = (n) => (total ? (100 * n) / total : 0);
    return m(".analytics-triggers", { "data-testid": "analytics-triggers" }, [
      m(".analytics-split-bar", { "aria-hidden": "true" }, [
        m(".analytics-split-http", { style: { width: `${pct(http)}%` } }),
        m(".analytics-split-cron", { style: { width: `${pct(cron)}%` } }),
      ]),
      m(".analytics-split-legend", [
        m("span.analytics-legend-http", { "data-testid": "analytics-http", "data-value": http },
          `${t("analytics.http")}: ${fmtCount(http)} (${pct(http).toFixed(0)}%)`),
        m("span.analytics-legend-cron", { "data-testid": "analytics-cron", "data-value": cron },
          `${t("analytics.cron")}: ${fmtCount(cron)} (${pct(cron).toFixed(0)}%)`),
      ]),
    ]);
  },
};

export const TopErrors = {
  view: ({ attrs }) => {
    const rows = attrs.errors || [];
    if (!rows.length) return m("p.muted", t("analytics.noErrors"));
    return m(".table-wrap", m("table.table.analytics-errors", { "data-testid": "analytics-top-errors" }, [
      m("thead", m("tr", [
        m("th", t("analytics.message")),
        m("th.num", t("analytics.count")),
        m("th", t("analytics.latest")),
      ])),
      m("tbody", rows.map((e) =>
        m("tr", { key: e.latest_execution_id, "data-testid": "analytics-error-row" }, [
          m("td.mono.analytics-error-message", { title: e.message }, e.message || "—"),
          m("td.num", fmtCount(e.count)),
          m("td", m("a", {
            href: `#!/executions/${encodeURIComponent(e.latest_execution_id)}`,
            "data-testid": "analytics-error-link",
            title: t("analytics.viewExecution"),
          }, formatTime(e.latest_at))),
        ]),
      )),
    ]));
  },
};

/** Quote a value as an SQL string literal. */
function sqlString(value) {
  return `'${String(value).replaceAll("'", "''")}'`;
}

/**
 * p95 per bucket, {bucketStart: ms}. The canned report has only the window's p95, so ask the
 * read-only SQL endpoint (same session) unless the server already put `p95` in the buckets.
 */
async function bucketP95(fnId, buckets, unit) {
  if (!buckets.length) return {};
  if (buckets.some((b) => "p95" in b)) {
    return Object.fromEntries(buckets.map((b) => [b.start, b.p95]));
  }
  const from = buckets[0].start;
  const sql =
    `SELECT CAST(epoch(date_trunc('${unit}', created_at)) AS BIGINT) AS b, ` +
    "quantile_disc(duration_ms, 0.95) AS p95 FROM executions " +
    `WHERE function_id = ${sqlString(fnId)} AND epoch(created_at) >= ${Number(from)} ` +
    "GROUP BY b ORDER BY b";
  const res = await api("POST", "/api/analytics/query", { sql, limit: 10000, timeout: 5 });
  return Object.fromEntries(res.rows.map(([b, p95]) => [b, p95]));
}

/** An x-axis tick in the page's language: times for short windows, dates for long ones. */
function axisTime(seconds, windowName) {
  const d = new Date(seconds * 1000);
  if (windowName === "1h" || windowName === "24h") {
    return d.toLocaleTimeString(lang(), { hour: "2-digit", minute: "2-digit" });
  }
  return d.toLocaleDateString(lang(), { month: "short", day: "numeric" });
}

/** The uPlot chart: calls and errors per bucket (left axis), p95 in ms (right axis). */
function CallsChart() {
  let plot = null;
  let observer = null;
  let state = "loading";
  let drawn = null;

  function options(uPlot, width, p95Label, windowName) {
    const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.8, 24] }) : undefined;
    const css = getComputedStyle(document.body);
    const color = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
    return {
      width,
      height: 260,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, n: { range: (u, lo, hi) => [0, Math.max(1, hi)] }, ms: {} },
      axes: [
        { stroke: color("--muted", "#888"), values: (u, splits) => splits.map((v) => axisTime(v, windowName)),
          grid: { stroke: color("--border", "#30363d"), width: 1 },
          ticks: { stroke: color("--border", "#30363d"), width: 1 } },
        { scale: "n", stroke: color("--muted", "#888"), label: t("analytics.calls"),
          grid: { stroke: color("--border", "#30363d"), width: 1 },
          ticks: { stroke: color("--border", "#30363d"), width: 1 } },
        { scale: "ms", side: 1, stroke: color("--muted", "#888"), label: "ms", grid: { show: false } },
      ],
      series: [
        { label: t("analytics.time"), value: (u, v) => (v === null || v === undefined ? "--" : formatTime(v)) },
        { label: t("analytics.calls"), scale: "n", stroke: color("--link", "#58a6ff"),
          fill: "rgba(88,166,255,0.35)", width: 1, paths: bars, points: { show: false } },
        { label: t("analytics.errors"), scale: "n", stroke: color("--error", "#f85149"),
          fill: "rgba(248,81,73,0.8)", width: 1, paths: bars, points: { show: false } },
        { label: p95Label, scale: "ms", stroke: color("--accent", "#f0c674"), width: 2,
          spanGaps: true, points: { show: true, size: 6, fill: color("--accent", "#f0c674") } },
      ],
    };
  }

  async function draw(dom, attrs) {
    const { report, fnId } = attrs;
    const key = `${report.window}:${report.to}:${lang()}`;
    if (drawn === key) return;
    drawn = key;
    // Until this report's chart is drawn (scripts wait for "ready"); set on the element too,
    // as this runs from onupdate, after the view was drawn.
    state = "loading";
    dom.dataset.state = state;
    const unit = report.window === "1h" ? "minute" : "hour";
    const buckets = (unit === "minute" ? report.throughput.per_minute : report.throughput.per_hour) || [];
    let uPlot;
    let p95 = null;
    try {
      [uPlot, p95] = await Promise.all([
        loadUPlot(),
        bucketP95(fnId, buckets, unit).catch(() => null),
      ]);
    } catch (err) {
      state = "failed";
      m.redraw();
      return;
    }
    if (drawn !== key) return; // a newer report arrived while loading
    const xs = buckets.map((b) => b.start);
    const windowP95 = report.duration_ms?.p95 ?? null;
    const p95s = p95 ? xs.map((x) => p95[x] ?? null) : xs.map(() => windowP95);
    const data = [xs, buckets.map((b) => b.invocations), buckets.map((b) => b.errors), p95s];
    const host = dom.querySelector(".analytics-chart-host");
    if (plot) plot.destroy();
    const label = p95 ? t("analytics.p95Series") : t("analytics.p95Window");
    plot = new uPlot(options(uPlot, Math.max(200, host.clientWidth), label, report.window), data, host);
    state = "ready";
    m.redraw();
  }

  return {
    oncreate: ({ dom, attrs }) => {
      draw(dom, attrs);
      observer = new ResizeObserver(() => {
        const host = dom.querySelector(".analytics-chart-host");
        if (plot && host.clientWidth) plot.setSize({ width: host.clientWidth, height: 260 });
      });
      observer.observe(dom);
    },
    onupdate: ({ dom, attrs }) => draw(dom, attrs),
    onremove: () => {
      observer?.disconnect();
      plot?.destroy();
      plot = null;
    },
    view: ({ attrs }) => {
      return m(".analytics-chart", { "data-testid": "analytics-chart", "data-state": state }, [
        state === "loading" && !plot ? m("p.muted", t("analytics.chartLoading")) : null,
        state === "failed" ? m("p.error-text", t("analytics.chartFailed")) : null,
        m(".analytics-chart-host"),
      ]);
    },
  };
}

function AnalyticsTab() {
  let report = null;
  let error = null;
  let loadedKey = null;
  let fnId = null;

  async function load(id, w) {
    const key = `${id}:${w}`;
    loadedKey = key;
    error = null;
    try {
      const r = await api("GET", `/api/functions/${encodeURIComponent(id)}/analytics?window=${w}`);
      if (loadedKey === key) report = r;
    } catch (err) {
      if (loadedKey === key) {
        error = err.message || String(err);
        report = null;
      }
    }
    m.redraw();
  }

  function ensureLoaded() {
    const w = routeWindow();
    if (loadedKey !== `${fnId}:${w}`) load(fnId, w);
  }

  function content() {
    const w = routeWindow();
    const header = m(".analytics-toolbar", [
      m(WindowPicker, { value: w, onchange: setRouteWindow }),
      m("button.btn.small", {
        type: "button", "data-testid": "analytics-refresh", onclick: () => load(fnId, w),
      }, t("analytics.refresh")),
    ]);
    if (error) return [header, m("p.error-text", { role: "alert" }, t("analytics.loadFailed", { error }))];
    if (!report || report.window !== w) return [header, m(Spinner)];
    return [
      header,
      m(Card, { title: t("analytics.summary", { window: t(`analytics.windows.${w}`) }) }, [
        figures(report, { calls: "analytics-calls", errorRate: "analytics-error-rate",
          p50: "analytics-p50", p95: "analytics-p95", p99: "analytics-p99", max: "analytics-max" }),
        m("p.muted.analytics-sub", [
          t("analytics.perMinute", {
            rate: fmtRatePerMinute(report.throughput.avg_per_minute),
            peak: fmtCount(report.throughput.peak_per_minute),
          }),
          report.last_execution_at
            ? ` · ${t("analytics.lastExecution", { time: formatTime(report.last_execution_at) })}`
            : null,
        ]),
        report.invocations === 0 ? m(EmptyState, { testid: "analytics-empty", message: t("analytics.empty") }) : null,
      ]),
      m(Card, {
        title: t("analytics.chartTitle", {
          unit: w === "1h" ? t("analytics.unitMinute") : t("analytics.unitHour"),
        }),
      }, m(CallsChart, { report, fnId })),
      m(".analytics-columns", [
        m(Card, { title: t("analytics.topErrors"), flush: report.top_errors.length > 0 },
          m(TopErrors, { errors: report.top_errors })),
        m(Card, { title: t("analytics.triggers") }, m(TriggerSplit, { triggers: report.triggers })),
      ]),
    ];
  }

  return {
    oninit: ({ attrs }) => {
      fnId = attrs.id || attrs.fnId || m.route.param("id");
      ensureLoaded();
    },
    onbeforeupdate: ({ attrs }) => {
      const id = attrs.id || attrs.fnId || m.route.param("id");
      if (id !== fnId) {
        fnId = id;
        report = null;
      }
      ensureLoaded();
    },
    view: () => m(".page.analytics-page", content()),
  };
}

export default AnalyticsTab;
