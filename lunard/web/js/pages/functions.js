// Functions list: paginated table, status and version badges, empty state.
import {api, pageQuery} from "../api.js";
import {t, addStrings} from "../i18n.js";
import {Badge, Card, EmptyState, ErrorState, Pagination, Spinner} from "../ui.js";

addStrings("en", {
  "functions.title": "Functions",
  "functions.subtitle": "Serverless Lua functions served at /fn/<id>",
  "functions.new": "New Function",
  "functions.all": "All Functions",
  "functions.count": "{{count}} functions total",
  "functions.name": "Name",
  "functions.description": "Description",
  "functions.status": "Status",
  "functions.version": "Version",
  "functions.empty": "No functions yet. Create your first function to get started.",
});
addStrings("pt-BR", {
  "functions.title": "Funções",
  "functions.subtitle": "Funções Lua serverless servidas em /fn/<id>",
  "functions.new": "Nova função",
  "functions.all": "Todas as funções",
  "functions.count": "{{count}} funções no total",
  "functions.name": "Nome",
  "functions.description": "Descrição",
  "functions.status": "Status",
  "functions.version": "Versão",
  "functions.empty": "Nenhuma função ainda. Crie sua primeira função para começar.",
});

export default {
  oninit: ({state}) => {
    state.limit = 20;
    state.offset = 0;
    state.load = async () => {
      try {
        state.data = await api("GET", `/api/functions?${pageQuery(state.limit, state.offset)}`);
        state.error = null;
      } catch (err) {
        state.error = err;
      }
      m.redraw();
    };
    state.load();
  },
  view: ({state}) => {
    const data = state.data;
    const fns = (data && data.functions) || [];
    const total = data ? data.pagination.total : 0;
    let body;
    if (state.error) body = m(ErrorState, {message: state.error.message, onretry: state.load});
    else if (!data) body = m(Spinner);
    else if (!fns.length && !total) body = m(EmptyState, {testid: "fn-empty", icon: "λ", message: t("functions.empty")},
      m(m.route.Link, {href: "/functions/new", class: "btn primary"}, t("functions.new")));
    else body = [
      m(".table-wrap", m("table.table.clickable", [
        m("thead", m("tr", [
          m("th", t("functions.name")), m("th.hide-sm", t("functions.description")),
          m("th", t("functions.status")), m("th", t("functions.version")),
        ])),
        m("tbody", fns.map((fn) => m("tr", {
          key: fn.id, "data-testid": "fn-row", "data-fn-id": fn.id, tabindex: 0,
          onclick: () => m.route.set(`/functions/${fn.id}`),
          onkeydown: (e) => { if (e.key === "Enter") m.route.set(`/functions/${fn.id}`); },
        }, [
          m("td.mono.fn-name-cell", m(m.route.Link, {href: `/functions/${fn.id}`}, fn.name)),
          m("td.hide-sm", fn.description ? fn.description : m("span.muted", t("common.noDescription"))),
          m("td", m(Badge, {kind: fn.disabled ? "error" : "success"},
            fn.disabled ? t("common.disabled") : t("common.enabled"))),
          m("td", m(Badge, {kind: "outline"}, `v${fn.active_version ? fn.active_version.version : 0}`)),
        ]))),
      ])),
      m(Pagination, {total, limit: state.limit, offset: state.offset, onchange: (limit, offset) => {
        state.limit = limit; state.offset = offset; state.load();
      }}),
    ];
    return m(".page", [
      m(".page-head", [
        m("div", [m("h1", t("functions.title")), m("p.subtitle.muted", t("functions.subtitle"))]),
        m(m.route.Link, {href: "/functions/new", class: "btn primary", "data-testid": "fn-new"}, "+ " + t("functions.new")),
      ]),
      m(Card, {title: t("functions.all"), subtitle: data && t("functions.count", {count: total}), flush: true}, body),
    ]);
  },
};
