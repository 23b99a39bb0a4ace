// Executions tab: paginated history with trigger and status badges, optional auto-refresh.
import {api, pageQuery} from "../api.js";
import {t, addStrings} from "../i18n.js";
import {Badge, Card, EmptyState, ErrorState, IdBadge, Pagination, Spinner, StatusBadge,
  formatDuration, formatTime} from "../ui.js";

addStrings("en", {
  "executions.title": "Execution History",
  "executions.count": "{{count}} total executions",
  "executions.id": "Execution ID",
  "executions.trigger": "Trigger",
  "executions.status": "Status",
  "executions.duration": "Duration",
  "executions.time": "Time",
  "executions.empty": "No executions yet. Test your function to see its executions here.",
  "executions.autoRefresh": "Auto-refresh",
});
addStrings("pt-BR", {
  "executions.title": "Histórico de execuções",
  "executions.count": "{{count}} execuções no total",
  "executions.id": "ID da execução",
  "executions.trigger": "Gatilho",
  "executions.status": "Status",
  "executions.duration": "Duração",
  "executions.time": "Horário",
  "executions.empty": "Nenhuma execução ainda. Teste sua função para ver as execuções aqui.",
  "executions.autoRefresh": "Atualizar automaticamente",
});

const REFRESH_MS = 5000;

export const TriggerBadge = {
  view: ({attrs}) => m(Badge, {kind: attrs.trigger === "cron" ? "info" : "outline"},
    (attrs.trigger || "http").toUpperCase()),
};

export default {
  oninit: ({attrs, state}) => {
    state.limit = 20;
    state.offset = 0;
    state.auto = false;
    state.load = async () => {
      try {
        state.data = await api("GET",
          `/api/functions/${encodeURIComponent(attrs.id)}/executions?${pageQuery(state.limit, state.offset)}`);
        state.error = null;
      } catch (err) { state.error = err; }
      m.redraw();
    };
    state.setAuto = (on) => {
      state.auto = on;
      clearInterval(state.timer);
      if (on) state.timer = setInterval(state.load, REFRESH_MS);
    };
    state.load();
  },
  onremove: ({state}) => clearInterval(state.timer),
  view: ({state}) => {
    const actions = [
      m("label.toggle", [
        m("input[type=checkbox]", {checked: state.auto, "data-testid": "exec-auto-refresh",
          onchange: (e) => state.setAuto(e.target.checked)}),
        m("span", t("executions.autoRefresh")),
      ]),
      m("button.btn.small", {onclick: state.load, "data-testid": "exec-refresh"}, t("common.refresh")),
    ];
    let body;
    const data = state.data;
    if (state.error) body = m(ErrorState, {message: state.error.message, onretry: state.load});
    else if (!data) body = m(Spinner);
    else if (!data.executions.length && !data.pagination.total) body = m(EmptyState, {testid: "exec-empty", message: t("executions.empty")});
    else body = [
      m(".table-wrap", m("table.table.clickable", [
        m("thead", m("tr", [m("th", t("executions.id")), m("th", t("executions.trigger")),
          m("th", t("executions.status")), m("th", t("executions.duration")), m("th.hide-sm", t("executions.time"))])),
        m("tbody", data.executions.map((ex) => m("tr", {
          key: ex.id, "data-testid": "exec-row", "data-status": ex.status, "data-exec-id": ex.id, tabindex: 0,
          onclick: () => m.route.set(`/executions/${ex.id}`),
          onkeydown: (e) => { if (e.key === "Enter") m.route.set(`/executions/${ex.id}`); },
        }, [
          m("td", m(IdBadge, {id: ex.id})),
          m("td", m(TriggerBadge, {trigger: ex.trigger})),
          m("td", m(StatusBadge, {status: ex.status})),
          m("td.mono", formatDuration(ex.duration_ms)),
          m("td.hide-sm", formatTime(ex.created_at)),
        ]))),
      ])),
      m(Pagination, {total: data.pagination.total, limit: state.limit, offset: state.offset,
        onchange: (limit, offset) => { state.limit = limit; state.offset = offset; state.load(); }}),
    ];
    return m(Card, {title: t("executions.title"), flush: true, actions,
      subtitle: data && t("executions.count", {count: data.pagination.total})}, body);
  },
};
