// Code tab: the Lua editor (save = new version), dirty state, API reference sidebar.
import {api} from "../api.js";
import {t, addStrings} from "../i18n.js";
import {Spinner, toast} from "../ui.js";
import {createEditor} from "../editor.js";
import {LUA_API} from "../lua_api.js";

addStrings("en", {
  "code.file": "main.lua",
  "code.save": "Save Changes",
  "code.saved": "Code saved successfully",
  "code.unsaved": "Unsaved changes",
  "code.upToDate": "Saved",
  "code.maximize": "Maximize editor",
  "code.restore": "Restore editor",
  "code.reference": "API Reference",
  "code.llms": "LLM Documentation",
  "code.shortcut": "Ctrl/⌘+S saves",
  "code.editorError": "The editor could not load: {{message}}",
  "code.leave": "You have unsaved changes. Leave anyway?",
});
addStrings("pt-BR", {
  "code.file": "main.lua",
  "code.save": "Salvar alterações",
  "code.saved": "Código salvo com sucesso",
  "code.unsaved": "Alterações não salvas",
  "code.upToDate": "Salvo",
  "code.maximize": "Maximizar editor",
  "code.restore": "Restaurar editor",
  "code.reference": "Referência da API",
  "code.llms": "Documentação para LLMs",
  "code.shortcut": "Ctrl/⌘+S salva",
  "code.editorError": "O editor não pôde ser carregado: {{message}}",
  "code.leave": "Há alterações não salvas. Sair mesmo assim?",
});

const Reference = {
  oninit: ({state}) => { state.open = "handler"; },
  view: ({state}) => m("aside.card.api-ref", {"data-testid": "api-reference"}, [
    m(".card-head", [
      m("h2.card-title", t("code.reference")),
      m("a.btn.small", {href: "/llms.txt", target: "_blank", rel: "noopener", "data-testid": "llms-link"}, t("code.llms")),
    ]),
    m(".api-sections", LUA_API.map((group) => m("details.api-section", {
      key: group.section, open: state.open === group.section,
      ontoggle: (e) => { if (e.target.open) state.open = group.section; },
    }, [
      m("summary", group.section),
      m("ul", group.entries.map((entry) => m("li", [
        m("code.mono", entry.args !== undefined ? `${entry.name}(${entry.args})` : entry.name),
        m("span.badge.muted.type", entry.returns || entry.type),
        m("p.muted", entry.description),
      ]))),
    ]))),
  ]),
};

export default {
  oninit: ({attrs, state}) => {
    state.base = attrs.fn.active_version.code || "";
    state.dirty = false;
    state.saving = false;
    state.maximized = false;
    state.save = async () => {
      if (!state.editor || state.saving) return;
      const code = state.editor.getValue();
      if (code === state.base) return;
      state.saving = true;
      m.redraw();
      try {
        await api("PUT", `/api/functions/${encodeURIComponent(attrs.id)}`, {code});
        state.base = code;
        state.dirty = false;
        toast(t("code.saved"));
        await attrs.reload();
      } catch (err) {
        toast(err.message, "error");
      } finally {
        state.saving = false;
        m.redraw();
      }
    };
    // The palette offers "Maximize editor" / "Restore editor" while this page is shown.
    state.commands = () => import("../palette.js").then((mod) => {
      if (state.unregister) state.unregister();
      if (state.removed) return;
      state.unregister = mod.registerCommands(state, [{
        id: "code-maximize",
        label: state.maximized ? t("code.restore") : t("code.maximize"),
        run: () => state.setMaximized(!state.maximized),
      }]);
    }).catch((err) => console.warn("palette commands unavailable:", err.message));
    state.setMaximized = (on) => {
      state.maximized = on;
      state.commands();
      m.redraw();
    };
    state.commands();
    state.onKey = (e) => {
      if (e.key === "Escape" && state.maximized) state.setMaximized(false);
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") { e.preventDefault(); state.save(); }
    };
    state.beforeUnload = (e) => { if (state.dirty) { e.preventDefault(); e.returnValue = ""; } };
    window.addEventListener("keydown", state.onKey);
    window.addEventListener("beforeunload", state.beforeUnload);
  },
  onremove: ({state}) => {
    state.removed = true;
    if (state.unregister) state.unregister();
    window.removeEventListener("keydown", state.onKey);
    window.removeEventListener("beforeunload", state.beforeUnload);
    if (state.editor) state.editor.destroy();
  },
  view: ({state}) => m(".code-layout", {class: state.maximized ? "maximized" : ""}, [
    m("section.card.editor-card", [
      m(".card-head", [
        m("div.editor-title", [
          m("h2.card-title.mono", t("code.file")),
          m("span.badge.outline", "lua"),
          m("span.dirty-flag", {class: state.dirty ? "dirty" : "", "data-testid": "code-dirty"},
            state.dirty ? "● " + t("code.unsaved") : t("code.upToDate")),
        ]),
        m(".card-actions", [
          m("span.muted.small.hide-sm", t("code.shortcut")),
          m("button.btn.small", {type: "button", onclick: () => state.setMaximized(!state.maximized),
            "data-testid": "code-maximize"}, state.maximized ? t("code.restore") : t("code.maximize")),
          m("button.btn.primary.small", {
            type: "button", "data-testid": "code-save", disabled: !state.dirty || state.saving,
            onclick: state.save,
          }, state.saving ? t("common.saving") : t("code.save")),
        ]),
      ]),
      m(".editor-host", {"data-testid": "code-editor"}, [
        m(".cm-mount", {
          oncreate: ({dom}) => {
            createEditor(dom, {
              language: "lua", value: state.base, label: t("code.file"),
              onChange: (text) => {
                const dirty = text !== state.base;
                if (dirty !== state.dirty) { state.dirty = dirty; m.redraw(); }
              },
              onSave: state.save,
            }).then((editor) => {
              state.editor = editor;
              m.redraw();
            }).catch((err) => { state.loadError = err; m.redraw(); });
          },
        }),
        state.loadError && m("p.error-text", t("code.editorError", {message: state.loadError.message})),
        !state.editor && !state.loadError && m(Spinner),
      ]),
    ]),
    m(Reference),
  ]),
};
