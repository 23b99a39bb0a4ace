// Version diff: the server's line diff of two versions as a table.
import {api} from "../api.js";
import {t, addStrings} from "../i18n.js";
import {Badge, Card, ErrorState, Spinner} from "../ui.js";

addStrings("en", {
  "diff.title": "Code Changes",
  "diff.summary": "+{{added}} additions / −{{removed}} deletions",
  "diff.back": "Back to versions",
  "diff.old": "Old",
  "diff.new": "New",
  "diff.added": "added line",
  "diff.removed": "removed line",
  "diff.unchanged": "unchanged line",
  "diff.empty": "Both versions are empty.",
});
addStrings("pt-BR", {
  "diff.title": "Alterações no código",
  "diff.summary": "+{{added}} adições / −{{removed}} remoções",
  "diff.back": "Voltar às versões",
  "diff.old": "Antiga",
  "diff.new": "Nova",
  "diff.added": "linha adicionada",
  "diff.removed": "linha removida",
  "diff.unchanged": "linha inalterada",
  "diff.empty": "As duas versões estão vazias.",
});

const MARK = {added: "+", removed: "−", unchanged: " "};

export default {
  oninit: ({attrs, state}) => {
    const {v1, v2} = m.route.param();
    state.v1 = v1;
    state.v2 = v2;
    state.load = async () => {
      try {
        state.data = await api("GET", `/api/functions/${encodeURIComponent(attrs.id)}/diff/${encodeURIComponent(v1)}/${encodeURIComponent(v2)}`);
        state.error = null;
      } catch (err) { state.error = err; }
      m.redraw();
    };
    state.load();
  },
  view: ({attrs, state}) => {
    const head = m(".diff-head", [
      m(m.route.Link, {href: `/functions/${attrs.id}/versions`, class: "btn small"}, "← " + t("diff.back")),
      m(Badge, {kind: "outline", testid: "diff-versions"}, `v${state.v1} → v${state.v2}`),
    ]);
    if (state.error) return [head, m(ErrorState, {message: state.error.message, onretry: state.load})];
    if (!state.data) return [head, m(Spinner)];
    const lines = state.data.diff || [];
    const added = lines.filter((l) => l.line_type === "added").length;
    const removed = lines.filter((l) => l.line_type === "removed").length;
    return [head, m(Card, {title: t("diff.title"), subtitle: t("diff.summary", {added, removed}), flush: true},
      lines.length ? m(".diff-wrap", m("table.diff-table", {"data-testid": "diff-table"}, [
        m("thead.sr-only", m("tr", [m("th", t("diff.old")), m("th", t("diff.new")), m("th"), m("th")])),
        m("tbody", lines.map((l, i) => m("tr", {key: i, class: `diff-${l.line_type}`,
          "aria-label": t(`diff.${l.line_type}`)}, [
          m("td.ln", l.old_line ?? ""), m("td.ln", l.new_line ?? ""),
          m("td.mark", MARK[l.line_type]), m("td.content", m("pre", l.content)),
        ]))),
      ])) : m("p.muted.pad", {"data-testid": "diff-table"}, t("diff.empty")))];
  },
};
