// The authenticated shell (header, main, command palette) and the function sub-page shell.
import {api} from "./api.js";
import {t, lang, setLang, LANGUAGES} from "./i18n.js";
import {Badge, IdBadge, Spinner, ErrorState} from "./ui.js";

// The palette belongs to another module; a failure to load it only costs the palette.
const palette = {component: null};
import("./palette.js")
  .then((mod) => { palette.component = mod.Palette || null; m.redraw(); })
  .catch((err) => console.warn("command palette unavailable:", err.message));

async function logout() {
  try {
    await api("POST", "/api/auth/logout");
  } finally {
    m.route.set("/login");
  }
}

const LanguageSelect = {
  view: () => m("select.input.small.lang-select", {
    "aria-label": t("nav.language"),
    "data-testid": "lang-select",
    value: lang(),
    onchange: (e) => setLang(e.target.value),
  }, Object.entries(LANGUAGES).map(([code, name]) => m("option", {value: code}, name))),
};

const NAV = [
  ["/functions", "nav.functions"],
  ["/analytics", "nav.analytics"],
  ["/sql", "nav.sql"],
  ["/clients", "nav.clients"],
];

const Header = {
  view: ({attrs}) => {
    const route = m.route.get() || "";
    return m("header.app-header", [
      m(".header-left", [
        m(m.route.Link, {href: "/functions", class: "brand"}, [m("span.brand-mark", "☾"), t("app.brand")]),
        attrs.title && m("span.sep", "/"),
        attrs.title && m("span.page-label", attrs.title),
      ]),
      m("nav.header-nav", NAV.map(([href, key]) =>
        m(m.route.Link, {href, class: route.startsWith(href) ? "active" : "",
          "data-testid": `nav-${key.split(".")[1]}`}, t(key)))),
      m(".header-right", [
        m("button.btn.small.search-btn", {type: "button", "data-testid": "nav-search",
          onclick: () => document.dispatchEvent(new CustomEvent("lunard:palette"))},
          [t("nav.search"), m("kbd", "⌘K")]),
        m(LanguageSelect),
        m("button.btn.small", {type: "button", "data-testid": "nav-logout", onclick: logout}, t("nav.logout")),
      ]),
    ]);
  },
};

export const Layout = {
  view: ({attrs, children}) => [
    m(Header, {title: attrs.title}),
    m("main.app-main", children),
    palette.component && m(palette.component),
  ],
};

const TABS = [
  ["code", ""], ["versions", "/versions"], ["executions", "/executions"], ["data", "/kv"],
  ["settings", "/settings"], ["test", "/test"], ["analytics", "/analytics"],
];

const FunctionHeader = {
  view: ({attrs: {fn}}) => m(".fn-header", [
    m(m.route.Link, {href: "/functions", class: "btn small back-btn", "aria-label": t("common.back")}, "←"),
    m(".fn-title", [
      m(".fn-title-row", [
        m("h1.fn-name.mono", {"data-testid": "fn-name"}, fn.name),
        m(IdBadge, {id: fn.id}),
        m(Badge, {kind: "outline", testid: "fn-version"}, `v${fn.active_version ? fn.active_version.version : 0}`),
        m(Badge, {kind: fn.disabled ? "error" : "success", testid: "fn-status"},
          fn.disabled ? t("common.disabled") : t("common.enabled")),
      ]),
      m("p.fn-description", {class: fn.description ? "" : "muted"}, fn.description || t("common.noDescription")),
    ]),
  ]),
};

const TabStrip = {
  view: ({attrs: {fnId, tab}}) => m("nav.tabs", {role: "tablist"}, TABS.map(([name, suffix]) =>
    m(m.route.Link, {
      href: `/functions/${fnId}${suffix}`,
      class: name === tab ? "tab active" : "tab",
      role: "tab",
      "aria-selected": name === tab ? "true" : "false",
      "data-testid": `tab-${name}`,
    }, t(`tabs.${name}`)))),
};

// Loads the function once per id, draws the shared header and tabs, then the tab's page
// as m(page, {id, fn, reload}) (or plain children).
export const FunctionShell = {
  oninit: ({attrs, state}) => {
    state.reload = async () => {
      const id = state.id;
      try {
        const fn = await api("GET", `/api/functions/${encodeURIComponent(id)}`);
        if (state.id === id) { state.fn = fn; state.error = null; }
      } catch (err) {
        if (state.id === id) state.error = err;
      }
      m.redraw();
      return state.fn;
    };
    state.id = attrs.fnId;
    state.reload();
  },
  onbeforeupdate: ({attrs, state}) => {
    if (attrs.fnId !== state.id) {
      state.id = attrs.fnId;
      state.fn = null;
      state.error = null;
      state.reload();
    }
  },
  view: ({attrs, state, children}) => {
    if (state.error) {
      return m(".page", m(ErrorState, {message: state.error.message, onretry: state.reload}));
    }
    if (!state.fn) return m(".page", m(Spinner));
    return m(".page.fn-page", [
      m(FunctionHeader, {fn: state.fn}),
      m(TabStrip, {fnId: attrs.fnId, tab: attrs.tab}),
      m(".tab-body", attrs.page
        ? m(attrs.page, {key: attrs.routeKey, id: attrs.fnId, fn: state.fn, reload: state.reload})
        : children),
    ]);
  },
};
