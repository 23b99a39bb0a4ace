// Connected clients (#!/clients): the API tokens handed to CLIs by the device flow
// (GET /api/tokens, newest first, revoked ones included) and revocation
// (POST /api/tokens/{id}/revoke, after a confirm). The list is not paginated by the API.
import { api } from "../api.js";
import { addStrings, t } from "../i18n.js";
import { Badge, Card, EmptyState, Spinner, formatTime, toast, loadStyle } from "../ui.js";

addStrings("en", {
  "clients.title": "Connected clients",
  "clients.subtitle": "API tokens issued to command-line clients through device approval.",
  "clients.all": "All clients",
  "clients.count": "{{count}} clients",
  "clients.name": "Name",
  "clients.created": "Created",
  "clients.lastUsed": "Last used",
  "clients.neverUsed": "never used",
  "clients.status": "Status",
  "clients.actions": "Actions",
  "clients.active": "Active",
  "clients.revoked": "Revoked",
  "clients.revoke": "Revoke",
  "clients.confirmRevoke": "Revoke {{name}}? The client will no longer be able to call the API.",
  "clients.revokedToast": "{{name}} revoked",
  "clients.empty": "No clients yet. Run the CLI's login command to connect one.",
  "clients.loadFailed": "Could not load clients: {{error}}",
  "clients.retry": "Retry",
});
addStrings("pt-BR", {
  "clients.title": "Clientes conectados",
  "clients.subtitle": "Tokens de API emitidos para clientes de linha de comando pela aprovação de dispositivo.",
  "clients.all": "Todos os clientes",
  "clients.count": "{{count}} clientes",
  "clients.name": "Nome",
  "clients.created": "Criado em",
  "clients.lastUsed": "Último uso",
  "clients.neverUsed": "nunca usado",
  "clients.status": "Status",
  "clients.actions": "Ações",
  "clients.active": "Ativo",
  "clients.revoked": "Revogado",
  "clients.revoke": "Revogar",
  "clients.confirmRevoke": "Revogar {{name}}? O cliente não poderá mais chamar a API.",
  "clients.revokedToast": "{{name}} revogado",
  "clients.empty": "Nenhum cliente ainda. Execute o comando de login da CLI para conectar um.",
  "clients.loadFailed": "Não foi possível carregar os clientes: {{error}}",
  "clients.retry": "Tentar novamente",
});

loadStyle(new URL("../../css/pages/account.css", import.meta.url).href).catch((err) => console.warn(err));

function Clients() {
  let tokens = null;
  let error = null;
  const busy = new Set();

  async function load() {
    error = null;
    try {
      tokens = (await api("GET", "/api/tokens")).tokens;
    } catch (err) {
      error = err.message || String(err);
    }
    m.redraw();
  }

  async function revoke(token) {
    if (!window.confirm(t("clients.confirmRevoke", { name: token.name }))) return;
    busy.add(token.id);
    try {
      await api("POST", `/api/tokens/${encodeURIComponent(token.id)}/revoke`);
      toast(t("clients.revokedToast", { name: token.name }));
      await load();
    } catch (err) {
      toast(err.message || String(err), "error");
    } finally {
      busy.delete(token.id);
      m.redraw();
    }
  }

  function row(token) {
    return m("tr", {
      key: token.id, "data-testid": "token-row", "data-token-id": token.id,
      "data-revoked": String(token.revoked),
    }, [
      m("td.mono", token.name),
      m("td", formatTime(token.created_at)),
      m("td", token.last_used ? formatTime(token.last_used) : m("span.muted", t("clients.neverUsed"))),
      m("td", token.revoked
        ? m(Badge, { kind: "error", testid: "token-status" }, t("clients.revoked"))
        : m(Badge, { kind: "success", testid: "token-status" }, t("clients.active"))),
      m("td.token-actions", token.revoked ? null : m("button.btn.small.danger", {
        type: "button", "data-testid": "token-revoke", disabled: busy.has(token.id),
        onclick: () => revoke(token),
      }, t("clients.revoke"))),
    ]);
  }

  function body() {
    if (error) {
      return m(".clients-error", [
        m("p.error-text", { role: "alert" }, t("clients.loadFailed", { error })),
        m("button.btn.small", { type: "button", onclick: load }, t("clients.retry")),
      ]);
    }
    if (tokens === null) return m(Spinner);
    if (!tokens.length) return m(EmptyState, { testid: "clients-empty", message: t("clients.empty") });
    return m(".table-wrap", m("table.table", { "data-testid": "token-table" }, [
      m("thead", m("tr", [
        m("th", t("clients.name")), m("th", t("clients.created")), m("th", t("clients.lastUsed")),
        m("th", t("clients.status")), m("th.token-actions", t("clients.actions")),
      ])),
      m("tbody", tokens.map(row)),
    ]));
  }

  return {
    oninit: load,
    view: () =>
      m(".page.clients-page", [
        m(".page-head", m("div", [m("h1", t("clients.title")), m("p.subtitle.muted", t("clients.subtitle"))])),
        m(Card, {
          title: t("clients.all"),
          subtitle: tokens ? t("clients.count", { count: tokens.length }) : null,
          flush: Boolean(tokens && tokens.length),
        }, body()),
      ]),
  };
}

export default Clients;
