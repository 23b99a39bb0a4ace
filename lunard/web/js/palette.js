// Command palette and keyboard shortcuts (platform.md §7.5), mounted once by Layout.
// Ctrl+K / Cmd+K anywhere toggles it; inside, ArrowDown/Ctrl+N and ArrowUp/Ctrl+P move,
// Enter runs, Escape or a click on the backdrop closes, hovering selects. Items, in order:
// commands registered by the current page, navigation, one "Switch language" per locale,
// then each function (up to 100, loaded on open) and its tabs.
//
// Pages add their own commands with `registerCommands(owner, [{id, label, description?,
// run}])`, which returns the function that removes them (call it from `onremove`).
import { api } from "./api.js";
import { LANGUAGES, addStrings, lang, setLang, t } from "./i18n.js";
import { loadStyle } from "./ui.js";

addStrings("en", {
  "palette.placeholder": "Type a command or a function name…",
  "palette.label": "Command palette",
  "palette.empty": "No matching commands",
  "palette.loading": "Loading functions…",
  "palette.functions": "Functions",
  "palette.newFunction": "New Function",
  "palette.analytics": "Analytics",
  "palette.sql": "SQL console",
  "palette.clients": "Connected clients",
  "palette.switchLanguage": "Switch language → {{name}}",
  "palette.current": "(current)",
  "palette.disabled": "Disabled",
  "palette.navigation": "Navigation",
  "palette.language": "Language",
  "palette.function": "Function",
  "palette.openCode": "Open the code editor",
  "palette.versions": "Versions",
  "palette.executions": "Executions",
  "palette.settings": "Settings",
  "palette.test": "Test",
  "palette.data": "Data",
  "palette.hint": "↑↓ to move · Enter to run · Esc to close",
});
addStrings("pt-BR", {
  "palette.placeholder": "Digite um comando ou o nome de uma função…",
  "palette.label": "Paleta de comandos",
  "palette.empty": "Nenhum comando encontrado",
  "palette.loading": "Carregando funções…",
  "palette.functions": "Funções",
  "palette.newFunction": "Nova função",
  "palette.analytics": "Análises",
  "palette.sql": "Console SQL",
  "palette.clients": "Clientes conectados",
  "palette.switchLanguage": "Mudar idioma → {{name}}",
  "palette.current": "(atual)",
  "palette.disabled": "Desativada",
  "palette.navigation": "Navegação",
  "palette.language": "Idioma",
  "palette.function": "Função",
  "palette.openCode": "Abrir o editor de código",
  "palette.versions": "Versões",
  "palette.executions": "Execuções",
  "palette.settings": "Configurações",
  "palette.test": "Testar",
  "palette.data": "Dados",
  "palette.hint": "↑↓ para mover · Enter para executar · Esc para fechar",
});

loadStyle(new URL("../css/pages/palette.css", import.meta.url).href).catch((err) => console.warn(err));

const FUNCTION_LIMIT = 100;
// Dispatched on `document` by the header's Search button (layout.js).
const TOGGLE_EVENT = "lunard:palette";
// Function tabs offered per function, after the function itself (→ code).
const FUNCTION_ACTIONS = [
  ["versions", "versions"],
  ["executions", "executions"],
  ["settings", "settings"],
  ["test", "test"],
  ["analytics", "analytics"],
];

const custom = new Map(); // owner -> commands, in registration order

/** Add page commands shown first in the palette; returns the function that removes them. */
export function registerCommands(owner, commands) {
  custom.set(owner, commands);
  m.redraw();
  return () => {
    if (custom.get(owner) === commands) {
      custom.delete(owner);
      m.redraw();
    }
  };
}

let toggleHandler = null;

/** Open (or close) the mounted palette, e.g. from a header button. */
export function togglePalette() {
  toggleHandler?.();
}

const go = (path) => () => m.route.set(path);

function staticItems() {
  const nav = [
    { id: "nav-functions", label: t("palette.functions"), description: t("palette.navigation"), run: go("/functions") },
    { id: "nav-new", label: t("palette.newFunction"), description: t("palette.navigation"), run: go("/functions/new") },
    { id: "nav-analytics", label: t("palette.analytics"), description: t("palette.navigation"), run: go("/analytics") },
    { id: "nav-sql", label: t("palette.sql"), description: t("palette.navigation"), run: go("/sql") },
    { id: "nav-clients", label: t("palette.clients"), description: t("palette.navigation"), run: go("/clients") },
  ];
  const langs = Object.entries(LANGUAGES).map(([code, name]) => ({
    id: `lang-${code}`,
    label: t("palette.switchLanguage", { name }) + (code === lang() ? ` ${t("palette.current")}` : ""),
    description: t("palette.language"),
    run: () => setLang(code),
  }));
  return [...nav, ...langs];
}

function functionItems(fns) {
  const items = [];
  for (const fn of fns) {
    const base = `/functions/${encodeURIComponent(fn.id)}`;
    const common = { disabled: Boolean(fn.disabled) };
    items.push({
      ...common, id: `fn-${fn.id}`, label: fn.name,
      description: fn.description || t("palette.openCode"), run: go(base),
    });
    for (const [tab, key] of FUNCTION_ACTIONS) {
      items.push({
        ...common, id: `fn-${fn.id}-${tab}`, label: `${fn.name} → ${t(`palette.${key}`)}`,
        description: t("palette.function"), run: go(`${base}/${tab}`),
      });
    }
  }
  return items;
}

function matches(item, query) {
  if (!query) return true;
  const q = query.toLowerCase();
  return item.label.toLowerCase().includes(q) || (item.description || "").toLowerCase().includes(q);
}

export function Palette() {
  let open = false;
  let query = "";
  let selected = 0;
  let fns = [];
  let loading = false;
  let returnFocus = null;
  let listDom = null;

  function items() {
    const pageItems = [...custom.values()].flat();
    return [...pageItems, ...staticItems(), ...functionItems(fns)].filter((i) => matches(i, query));
  }

  async function loadFunctions() {
    loading = true;
    try {
      fns = (await api("GET", `/api/functions?limit=${FUNCTION_LIMIT}`)).functions || [];
    } catch (err) {
      console.warn("palette: cannot load functions", err);
    } finally {
      loading = false;
      m.redraw();
    }
  }

  function show() {
    open = true;
    query = "";
    selected = 0;
    returnFocus = document.activeElement;
    loadFunctions();
    m.redraw();
  }

  function close() {
    if (!open) return;
    open = false;
    m.redraw();
    if (returnFocus && document.contains(returnFocus)) returnFocus.focus();
    returnFocus = null;
  }

  function toggle() {
    if (open) close();
    else show();
  }

  function run(item) {
    if (!item) return;
    close();
    item.run();
  }

  // Capture phase, so an editor that has the focus cannot swallow the shortcut first.
  function onGlobalKey(e) {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "k") {
      e.preventDefault();
      e.stopPropagation();
      toggle();
    } else if (open && e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      close();
    }
  }

  function onInputKey(e) {
    const list = items();
    const move = (delta) => {
      e.preventDefault();
      if (list.length) selected = (selected + delta + list.length) % list.length;
    };
    if (e.key === "ArrowDown" || (e.ctrlKey && e.key.toLowerCase() === "n")) move(1);
    else if (e.key === "ArrowUp" || (e.ctrlKey && e.key.toLowerCase() === "p")) move(-1);
    else if (e.key === "Enter") {
      e.preventDefault();
      run(list[selected]);
    }
  }

  function itemView(item, index) {
    return m("li.palette-item", {
      key: item.id,
      id: `palette-item-${index}`,
      role: "option",
      "data-testid": "palette-item",
      "data-command": item.id,
      "aria-selected": String(index === selected),
      class: [index === selected ? "selected" : "", item.disabled ? "disabled" : ""].join(" "),
      onmousemove: () => {
        if (selected !== index) selected = index;
      },
      onclick: () => run(item),
    }, [
      m("span.palette-item-label", item.label),
      item.disabled ? m("span.badge.palette-badge", t("palette.disabled")) : null,
      item.description ? m("span.palette-item-desc", item.description) : null,
    ]);
  }

  return {
    oncreate: () => {
      window.addEventListener("keydown", onGlobalKey, true);
      document.addEventListener(TOGGLE_EVENT, toggle);
      toggleHandler = toggle;
    },
    onremove: () => {
      window.removeEventListener("keydown", onGlobalKey, true);
      document.removeEventListener(TOGGLE_EVENT, toggle);
      if (toggleHandler === toggle) toggleHandler = null;
    },
    onupdate: () => {
      listDom?.querySelector(".palette-item.selected")?.scrollIntoView({ block: "nearest" });
    },
    view: () => {
      if (!open) return null;
      const list = items();
      if (selected >= list.length) selected = Math.max(0, list.length - 1);
      return m(".palette-backdrop", {
        "data-testid": "palette-backdrop",
        onclick: (e) => {
          if (e.target === e.currentTarget) close();
        },
      }, m(".palette", { role: "dialog", "aria-modal": "true", "aria-label": t("palette.label"), "data-testid": "palette" }, [
        m("input.palette-input", {
          "data-testid": "palette-input",
          type: "text",
          role: "combobox",
          "aria-expanded": "true",
          "aria-controls": "palette-list",
          "aria-activedescendant": list.length ? `palette-item-${selected}` : null,
          placeholder: t("palette.placeholder"),
          autocomplete: "off",
          spellcheck: false,
          value: query,
          oncreate: ({ dom }) => dom.focus(),
          oninput: (e) => {
            query = e.target.value;
            selected = 0;
          },
          onkeydown: onInputKey,
        }),
        m("ul.palette-list#palette-list", {
          role: "listbox",
          oncreate: ({ dom }) => { listDom = dom; },
          onremove: () => { listDom = null; },
        }, list.length
          ? list.map(itemView)
          : m("li.palette-empty", loading ? t("palette.loading") : t("palette.empty"))),
        m(".palette-hint", t("palette.hint")),
      ]));
    },
  };
}
