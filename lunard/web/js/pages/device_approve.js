// CLI device approval (#!/device-approve/:code, the approval_url the CLI prints).
// GET /api/auth/device-approve?code= shows the user code and status; the user allows or
// denies with POST /api/auth/device-approve {device_code, action}. A code is decided once
// (DECISIONS 9): 404 means unknown, expired or already decided. Needs a session; a 401 sends
// the user to the login page, which brings them back here (see api.js / login.js).
import { api } from "../api.js";
import { addStrings, t } from "../i18n.js";
import { Card, Spinner, loadStyle } from "../ui.js";

addStrings("en", {
  "device_approve.title": "Device approval",
  "device_approve.heading": "Authorize a command-line client",
  "device_approve.intro": "A CLI is asking for access to this lunard. Check that this code matches the one shown in your terminal.",
  "device_approve.userCode": "User code",
  "device_approve.expiresIn": "Expires in {{time}}",
  "device_approve.allow": "Allow",
  "device_approve.deny": "Deny",
  "device_approve.approved": "Access granted. You can return to your terminal.",
  "device_approve.denied": "Access denied. The CLI will not receive a token.",
  "device_approve.alreadyApproved": "This request was already approved.",
  "device_approve.alreadyDenied": "This request was already denied.",
  "device_approve.expired": "This request has expired. Start the login again from the CLI.",
  "device_approve.unknown": "This device code is unknown or has expired. Start the login again from the CLI.",
  "device_approve.failed": "Could not complete the request: {{error}}",
  "device_approve.clients": "Connected clients",
});
addStrings("pt-BR", {
  "device_approve.title": "Aprovação de dispositivo",
  "device_approve.heading": "Autorizar um cliente de linha de comando",
  "device_approve.intro": "Uma CLI está pedindo acesso a este lunard. Confira se este código é o mesmo mostrado no seu terminal.",
  "device_approve.userCode": "Código do usuário",
  "device_approve.expiresIn": "Expira em {{time}}",
  "device_approve.allow": "Permitir",
  "device_approve.deny": "Negar",
  "device_approve.approved": "Acesso concedido. Você pode voltar ao terminal.",
  "device_approve.denied": "Acesso negado. A CLI não receberá um token.",
  "device_approve.alreadyApproved": "Este pedido já foi aprovado.",
  "device_approve.alreadyDenied": "Este pedido já foi negado.",
  "device_approve.expired": "Este pedido expirou. Inicie o login novamente pela CLI.",
  "device_approve.unknown": "Este código de dispositivo é desconhecido ou expirou. Inicie o login novamente pela CLI.",
  "device_approve.failed": "Não foi possível concluir o pedido: {{error}}",
  "device_approve.clients": "Clientes conectados",
});

loadStyle(new URL("../../css/pages/account.css", import.meta.url).href).catch((err) => console.warn(err));

function remaining(expiresAt) {
  const s = Math.max(0, Math.round(expiresAt - Date.now() / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function DeviceApprove() {
  let code = null;
  let entry = null; // the GET answer
  // loading | pending | approved | denied | alreadyApproved | alreadyDenied | expired | unknown | failed
  let state = "loading";
  let message = "";
  let busy = false;
  let timer = null;

  async function load() {
    state = "loading";
    try {
      entry = await api("GET", `/api/auth/device-approve?code=${encodeURIComponent(code)}`);
      if (entry.status === "pending") state = "pending";
      else state = entry.status === "approved" ? "alreadyApproved" : "alreadyDenied";
    } catch (err) {
      if (err.status === 401) return; // api.js is taking the user to the login page
      state = err.status === 404 || err.status === 400 ? "unknown" : "failed";
      message = err.message || String(err);
    }
    m.redraw();
  }

  async function decide(action) {
    busy = true;
    try {
      await api("POST", "/api/auth/device-approve", { device_code: code, action });
      state = action === "allow" ? "approved" : "denied";
    } catch (err) {
      state = err.status === 404 ? "expired" : "failed";
      message = err.message || String(err);
    } finally {
      busy = false;
      m.redraw();
    }
  }

  function tick() {
    if (state !== "pending") return;
    if (entry.expires_at <= Date.now() / 1000) state = "expired";
    m.redraw();
  }

  function result() {
    const ok = state === "approved" || state === "alreadyApproved";
    const text = state === "failed" ? t("device_approve.failed", { error: message }) : t(`device_approve.${state}`);
    return m(".device-result", {
      "data-testid": "device-result",
      "data-state": state,
      role: "status",
      class: ok ? "ok" : "bad",
    }, [
      m("p", text),
      state === "unknown" && message ? m("p.muted", message) : null,
      ok ? m("a", { href: "#!/clients" }, t("device_approve.clients")) : null,
    ]);
  }

  function body() {
    if (state === "loading") return m(Spinner);
    const showCode = entry && entry.user_code;
    const codeView = showCode
      ? m(".device-code-box", [
        m(".device-code-label", t("device_approve.userCode")),
        m("code.device-user-code", { "data-testid": "device-user-code" },
          // Two halves for legibility; textContent stays the exact user code.
          [entry.user_code.slice(0, 4), entry.user_code.slice(4)].map((part) => m("span", part))),
      ])
      : null;
    if (state !== "pending") return [codeView, result()];
    return [
      m("p", t("device_approve.intro")),
      codeView,
      m("p.muted.device-expiry", t("device_approve.expiresIn", { time: remaining(entry.expires_at) })),
      m(".device-actions", [
        m("button.btn", {
          type: "button", "data-testid": "device-deny", disabled: busy, onclick: () => decide("deny"),
        }, t("device_approve.deny")),
        m("button.btn.primary", {
          type: "button", "data-testid": "device-allow", disabled: busy, onclick: () => decide("allow"),
        }, t("device_approve.allow")),
      ]),
    ];
  }

  return {
    oninit: ({ attrs }) => {
      code = attrs.code || m.route.param("code");
      load();
      timer = setInterval(tick, 1000);
    },
    onbeforeupdate: ({ attrs }) => {
      const next = attrs.code || m.route.param("code");
      if (next && next !== code) {
        code = next;
        entry = null;
        load();
      }
    },
    onremove: () => clearInterval(timer),
    view: () =>
      m(".page.device-page", m(Card, { title: t("device_approve.heading") }, body())),
  };
}

export default DeviceApprove;
