// Versions tab: history, activate, delete, pick two to compare.
import {api, pageQuery} from "../api.js";
import {t, addStrings} from "../i18n.js";
import {Badge, Card, ErrorState, Pagination, Spinner, confirmAction, formatTime, toast} from "../ui.js";

addStrings("en", {
  "versions.title": "Version History",
  "versions.count": "{{count}} versions",
  "versions.version": "Version",
  "versions.created": "Created",
  "versions.actions": "Actions",
  "versions.active": "ACTIVE",
  "versions.activate": "Activate",
  "versions.confirmActivate": "Activate version {{n}}?",
  "versions.activated": "Version {{n}} activated",
  "versions.confirmDelete": "Delete version {{n}}? Its executions are deleted too.",
  "versions.deleted": "Version {{n}} deleted",
  "versions.select": "Select 2 versions to compare",
  "versions.compare": "Compare v{{a}} and v{{b}}",
  "versions.pick": "Select v{{n}}",
});
addStrings("pt-BR", {
  "versions.title": "Histórico de versões",
  "versions.count": "{{count}} versões",
  "versions.version": "Versão",
  "versions.created": "Criada em",
  "versions.actions": "Ações",
  "versions.active": "ATIVA",
  "versions.activate": "Ativar",
  "versions.confirmActivate": "Ativar a versão {{n}}?",
  "versions.activated": "Versão {{n}} ativada",
  "versions.confirmDelete": "Excluir a versão {{n}}? As execuções dela também serão excluídas.",
  "versions.deleted": "Versão {{n}} excluída",
  "versions.select": "Selecione 2 versões para comparar",
  "versions.compare": "Comparar v{{a}} e v{{b}}",
  "versions.pick": "Selecionar v{{n}}",
});

export default {
  oninit: ({attrs, state}) => {
    state.limit = 20;
    state.offset = 0;
    state.selected = [];
    state.load = async () => {
      try {
        state.data = await api("GET",
          `/api/functions/${encodeURIComponent(attrs.id)}/versions?${pageQuery(state.limit, state.offset)}`);
        state.error = null;
      } catch (err) {
        state.error = err;
      }
      m.redraw();
    };
    state.toggle = (n) => {
      if (state.selected.includes(n)) state.selected = state.selected.filter((x) => x !== n);
      else state.selected = [...state.selected, n].slice(-2);
    };
    state.activate = async (v) => {
      if (!confirmAction(t("versions.confirmActivate", {n: v.version}))) return;
      try {
        await api("POST", `/api/functions/${encodeURIComponent(attrs.id)}/versions/${encodeURIComponent(v.id)}/activate`);
        toast(t("versions.activated", {n: v.version}));
        await Promise.all([state.load(), attrs.reload()]);
      } catch (err) { toast(err.message, "error"); }
    };
    state.remove = async (v) => {
      if (!confirmAction(t("versions.confirmDelete", {n: v.version}))) return;
      try {
        await api("DELETE", `/api/functions/${encodeURIComponent(attrs.id)}/versions/${encodeURIComponent(v.id)}`);
        toast(t("versions.deleted", {n: v.version}));
        state.selected = state.selected.filter((x) => x !== v.version);
        await state.load();
      } catch (err) { toast(err.message, "error"); }
    };
    state.load();
  },
  view: ({attrs, state}) => {
    if (state.error) return m(ErrorState, {message: state.error.message, onretry: state.load});
    if (!state.data) return m(Spinner);
    const versions = state.data.versions || [];
    const sel = [...state.selected].sort((a, b) => a - b);
    return m(Card, {title: t("versions.title"), flush: true,
      subtitle: t("versions.count", {count: state.data.pagination.total})}, [
      m(".table-wrap", m("table.table", [
        m("thead", m("tr", [m("th.check"), m("th", t("versions.version")), m("th", t("versions.created")),
          m("th", t("versions.actions"))])),
        m("tbody", versions.map((v) => m("tr", {key: v.id, "data-testid": "version-row",
          "data-version": v.version, class: v.is_active ? "active-row" : ""}, [
          m("td.check", m("input[type=checkbox]", {
            "data-testid": "version-select", "aria-label": t("versions.pick", {n: v.version}),
            checked: state.selected.includes(v.version), onchange: () => state.toggle(v.version),
          })),
          m("td", m(Badge, {kind: "outline"}, `v${v.version}`)),
          m("td", formatTime(v.created_at)),
          m("td.actions", v.is_active
            ? m(Badge, {kind: "success", testid: "version-active"}, t("versions.active"))
            : [
              m("button.btn.small", {"data-testid": "version-activate", onclick: () => state.activate(v)}, t("versions.activate")),
              m("button.btn.small.danger", {"data-testid": "version-delete", onclick: () => state.remove(v)}, t("common.delete")),
            ]),
        ]))),
      ])),
      m(".card-foot", [
        m("button.btn.primary.small", {
          "data-testid": "version-compare", disabled: sel.length !== 2,
          onclick: () => m.route.set(`/functions/${attrs.id}/diff/${sel[0]}/${sel[1]}`),
        }, sel.length === 2 ? t("versions.compare", {a: sel[0], b: sel[1]}) : t("versions.select")),
        m(Pagination, {total: state.data.pagination.total, limit: state.limit, offset: state.offset,
          onchange: (limit, offset) => { state.limit = limit; state.offset = offset; state.load(); }}),
      ]),
    ]);
  },
};
