// The router: hash-bang routes of platform.md §7.2 (plus analytics and SQL). Every page is
// imported on first visit, so a page module that fails to load only breaks its own route.
import {t} from "./i18n.js";
import {Layout, FunctionShell} from "./layout.js";
import {ErrorState} from "./ui.js";

const broken = (err) => ({
  view: () => m(".page", m(ErrorState, {message: err.message})),
});

function loadModule(path) {
  return import(path).then((mod) => mod.default).catch((err) => {
    console.error(`cannot load ${path}:`, err);
    return broken(err);
  });
}

// Every route resolution gets a new number that keys the page, so a navigation always starts
// a fresh page instance with fresh data, even when the screen still shows the same component
// (e.g. the list is shown, logout starts loading the login page, the user goes back to the
// list before it arrived). This counter is the router's only state.
const router = {navigation: 0};
const keyed = (vnode) => m(vnode.tag, {...vnode.attrs, key: router.navigation});

function load(path) {
  router.navigation += 1;
  return loadModule(path);
}

function page(path, titleKey) {
  return {
    onmatch: () => load(path),
    render: (vnode) => m(Layout, {title: titleKey && t(titleKey)}, keyed(vnode)),
  };
}

function bare(path) {
  return {onmatch: () => load(path), render: keyed};
}

// A function tab: the shell (header, tabs) survives tab switches of the same function.
function tab(path, name) {
  return {
    onmatch: () => load(path),
    render: (vnode) => m(Layout, {title: t("nav.functions")},
      m(FunctionShell, {fnId: vnode.attrs.id, tab: name, page: vnode.tag, routeKey: router.navigation,
        key: vnode.attrs.id})),
  };
}

const routes = {
  "/login": bare("./pages/login.js"),
  "/functions": page("./pages/functions.js", "nav.functions"),
  "/functions/new": page("./pages/create.js", "nav.functions"),
  "/functions/:id": tab("./pages/code.js", "code"),
  "/functions/:id/versions": tab("./pages/versions.js", "versions"),
  "/functions/:id/executions": tab("./pages/executions.js", "executions"),
  "/functions/:id/kv": tab("./pages/data.js", "data"),
  "/functions/:id/settings": tab("./pages/settings.js", "settings"),
  "/functions/:id/test": tab("./pages/test.js", "test"),
  "/functions/:id/analytics": tab("./pages/analytics_tab.js", "analytics"),
  "/functions/:id/diff/:v1/:v2": tab("./pages/diff.js", "versions"),
  "/executions/:id": page("./pages/execution.js", "nav.functions"),
  "/analytics": page("./pages/analytics_overview.js", "nav.analytics"),
  "/sql": page("./pages/sql.js", "nav.sql"),
  "/clients": page("./pages/clients.js", "nav.clients"),
  "/device-approve/:code": page("./pages/device_approve.js", null),
};

document.title = t("app.title");
m.route.prefix = "#!";
m.route(document.getElementById("app"), "/functions", routes);
