// Key/value row editor (env vars, KV stores): each row is original, added, modified or
// removed; removing an added row drops it, removing an original one marks it (Restore undoes).
import {t, addStrings} from "./i18n.js";
import {Card} from "./ui.js";

addStrings("en", {
  "kvedit.count": "{{count}} entries",
  "kvedit.add": "Add Variable",
  "kvedit.empty": "No entries yet.",
  "kvedit.duplicate": "Duplicate key: {{key}}",
  "kvedit.emptyKey": "Every entry needs a key",
});
addStrings("pt-BR", {
  "kvedit.count": "{{count}} entradas",
  "kvedit.add": "Adicionar variável",
  "kvedit.empty": "Nenhuma entrada ainda.",
  "kvedit.duplicate": "Chave duplicada: {{key}}",
  "kvedit.emptyKey": "Toda entrada precisa de uma chave",
});

function rowsOf(map) {
  return Object.entries(map || {}).sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value], i) => ({id: i, key, value, origKey: key, origValue: value, status: "original"}));
}

// The entries that remain, in row order; rows with both key and value empty are dropped.
export function remaining(rows) {
  return rows.filter((r) => r.status !== "removed" && (r.key !== "" || r.value !== ""))
    .map((r) => ({key: r.key, value: r.value}));
}

function validate(entries) {
  const seen = new Set();
  for (const {key} of entries) {
    if (!key) return t("kvedit.emptyKey");
    if (seen.has(key)) return t("kvedit.duplicate", {key});
    seen.add(key);
  }
  return null;
}

// attrs: title, initial (object), onsave(entries) -> Promise, ids {add, save, key, value},
// addLabel, testid.
export const KvEditor = {
  oninit: ({attrs, state}) => {
    state.rows = rowsOf(attrs.initial);
    state.nextId = state.rows.length;
    state.error = null;
    state.saving = false;
  },
  view: ({attrs, state}) => {
    const ids = attrs.ids;
    const changed = state.rows.some((r) => r.status !== "original");
    const live = state.rows.filter((r) => r.status !== "removed").length;
    const edit = (row, field, value) => {
      row[field] = value;
      if (row.status === "original" || row.status === "modified") {
        row.status = row.key === row.origKey && row.value === row.origValue ? "original" : "modified";
      }
    };
    const remove = (row) => {
      if (row.status === "added") state.rows = state.rows.filter((r) => r !== row);
      else row.status = "removed";
    };
    const restore = (row) => {
      row.key = row.origKey;
      row.value = row.origValue;
      row.status = "original";
    };
    const save = async () => {
      const entries = remaining(state.rows);
      state.error = validate(entries);
      if (state.error) return;
      state.saving = true;
      try {
        await attrs.onsave(entries);
        state.rows = rowsOf(Object.fromEntries(entries.map((e) => [e.key, e.value])));
        state.nextId = state.rows.length;
      } catch (err) {
        state.error = err.message;
      } finally {
        state.saving = false;
        m.redraw();
      }
    };
    return m(Card, {
      title: attrs.title, subtitle: [attrs.subtitle, attrs.subtitle && " · ", t("kvedit.count", {count: live})],
      testid: attrs.testid,
      actions: m("button.btn.primary.small", {"data-testid": ids.save, disabled: !changed || state.saving, onclick: save},
        state.saving ? t("common.saving") : t("common.save")),
    }, [
      state.rows.length === 0 && m("p.muted", t("kvedit.empty")),
      m(".kv-rows", state.rows.map((row) => m(".kv-row", {key: row.id, class: row.status, "data-status": row.status}, [
        m("input.input.mono", {"data-testid": ids.key, placeholder: t("kv.key"), "aria-label": t("kv.key"),
          value: row.key, disabled: row.status === "removed", oninput: (e) => edit(row, "key", e.target.value)}),
        m("input.input.mono", {"data-testid": ids.value, placeholder: t("kv.value"), "aria-label": t("kv.value"),
          value: row.value, disabled: row.status === "removed", oninput: (e) => edit(row, "value", e.target.value)}),
        row.status === "removed"
          ? m("button.btn.small", {onclick: () => restore(row)}, t("kv.restore"))
          : m("button.btn.small.danger", {onclick: () => remove(row), "aria-label": t("kv.remove")}, "✕"),
      ]))),
      state.error && m("p.error-text", {role: "alert"}, state.error),
      m("button.btn.small", {"data-testid": ids.add, onclick: () => {
        state.rows.push({id: state.nextId++, key: "", value: "", origKey: "", origValue: "", status: "added"});
      }}, "+ " + (attrs.addLabel || t("kvedit.add"))),
    ]);
  },
};
