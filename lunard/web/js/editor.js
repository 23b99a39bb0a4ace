// The code editor: CodeMirror 6, bundled once into vendor/ and loaded only when a page
// asks for an editor (the list page never pays for it).
import {CODEMIRROR_JS} from "./vendor.js";
import {LUA_API, LUA_SNIPPETS} from "./lua_api.js";

let loading = null;

function loadCodeMirror() {
  if (!loading) loading = import(CODEMIRROR_JS).catch((err) => { loading = null; throw err; });
  return loading;
}

// The page's per-response CSP nonce: CodeMirror's theme <style> elements must carry it.
function cspNonce(cm) {
  const meta = document.querySelector('meta[name="csp-nonce"]');
  return meta && meta.content ? [cm.EditorView.cspNonce.of(meta.content)] : [];
}

function luaCompletions(cm) {
  const options = [];
  for (const group of LUA_API) {
    for (const entry of group.entries) {
      if (entry.name === "handler") continue;
      const info = `${entry.name}${entry.args !== undefined ? `(${entry.args})` : ""} → ${entry.returns || entry.type}\n${entry.description}`;
      options.push(cm.snippetCompletion(entry.snippet, {
        label: entry.name,
        detail: entry.returns !== undefined ? `(${entry.args})` : entry.type,
        info,
        type: entry.args !== undefined ? "function" : "property",
      }));
    }
  }
  for (const snip of LUA_SNIPPETS) {
    options.push(cm.snippetCompletion(snip.template, {label: snip.label, detail: snip.detail, type: "keyword"}));
  }
  return (context) => {
    const word = context.matchBefore(/[\w.]+/);
    if (!word || (word.from === word.to && !context.explicit)) return null;
    return {from: word.from, options, validFor: /^[\w.]*$/};
  };
}

function languageExtension(cm, language) {
  switch (language) {
    case "lua": return cm.StreamLanguage.define(cm.lua);
    case "sql": return cm.sql({dialect: cm.PostgreSQL});
    case "shell": return cm.StreamLanguage.define(cm.shell);
    case "javascript": case "json": return cm.StreamLanguage.define(cm.javascript);
    case "python": return cm.StreamLanguage.define(cm.python);
    case "go": return cm.StreamLanguage.define(cm.go);
    default: return [];
  }
}

function handle(view, parent) {
  const api = {
    getValue: () => view.state.doc.toString(),
    setValue: (text) => view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: text}}),
    focus: () => view.focus(),
    destroy: () => { view.destroy(); delete parent.lunardEditor; },
    view,
  };
  // Scripts and tests may drive the editor through its element: el.lunardEditor.setValue().
  parent.lunardEditor = api;
  return api;
}

// createEditor(parent, {language, value, onChange, onSave, onRun}) -> {getValue, setValue, focus, destroy}
export async function createEditor(parent, opts = {}) {
  const cm = await loadCodeMirror();
  const keys = [];
  if (opts.onSave) keys.push({key: "Mod-s", preventDefault: true, stopPropagation: true, run: () => { opts.onSave(); return true; }});
  if (opts.onRun) keys.push({key: "Mod-Enter", preventDefault: true, stopPropagation: true, run: () => { opts.onRun(); return true; }});
  const completion = opts.language === "lua"
    ? cm.autocompletion({override: [luaCompletions(cm)]})
    : cm.autocompletion();
  const extensions = [
    cm.lineNumbers(), cm.highlightActiveLineGutter(), cm.history(), cm.drawSelection(),
    cm.indentOnInput(), cm.bracketMatching(), cm.closeBrackets(), cm.highlightActiveLine(),
    cm.highlightSelectionMatches(), completion,
    cm.keymap.of([...keys, ...cm.closeBracketsKeymap, ...cm.defaultKeymap, ...cm.searchKeymap,
      ...cm.historyKeymap, ...cm.completionKeymap, cm.indentWithTab]),
    cm.EditorState.tabSize.of(2), cm.indentUnit.of("  "),
    cm.oneDark, languageExtension(cm, opts.language), cspNonce(cm),
    cm.EditorView.updateListener.of((update) => {
      if (update.docChanged && opts.onChange) opts.onChange(update.state.doc.toString());
    }),
    cm.EditorView.contentAttributes.of({"aria-label": opts.label || "Code editor"}),
  ];
  if (opts.placeholder) extensions.push(cm.placeholder(opts.placeholder));
  const view = new cm.EditorView({
    parent,
    state: cm.EditorState.create({doc: opts.value || "", extensions}),
  });
  return handle(view, parent);
}

// A read-only highlighted view of a snippet (error code, examples, diff-free code views).
export async function createViewer(parent, {language, value, lineNumbers = false, firstLine = 1}) {
  const cm = await loadCodeMirror();
  const extensions = [
    cm.EditorState.readOnly.of(true), cm.EditorView.editable.of(false),
    cm.oneDark, languageExtension(cm, language), cm.EditorView.lineWrapping, cspNonce(cm),
  ];
  if (lineNumbers) {
    extensions.push(cm.lineNumbers({formatNumber: (n) => String(n + firstLine - 1)}));
  }
  const view = new cm.EditorView({parent, state: cm.EditorState.create({doc: value || "", extensions})});
  return handle(view, parent);
}

// A Mithril component around createViewer; re-creates the view when `value` changes.
export const CodeViewer = {
  oncreate: ({dom, attrs, state}) => {
    state.value = attrs.value;
    state.ready = createViewer(dom, attrs).then((v) => { state.viewer = v; return v; });
  },
  onupdate: ({attrs, state}) => {
    if (attrs.value !== state.value) {
      state.value = attrs.value;
      state.ready.then((v) => v.setValue(attrs.value || ""));
    }
  },
  onremove: ({state}) => state.ready.then((v) => v.destroy()),
  view: ({attrs}) => m(".code-viewer", {class: attrs.class, "data-testid": attrs.testid}),
};
