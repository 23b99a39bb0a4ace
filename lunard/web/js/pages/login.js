// Login: exchange the admin key for the `auth_token` session cookie; the key is kept only
// in this component's state while typing, never stored.
import {api} from "../api.js";
import {t, addStrings} from "../i18n.js";

addStrings("en", {
  "login.title": "Lunar",
  "login.subtitle": "Enter your API key to access the dashboard",
  "login.key": "API Key",
  "login.placeholder": "Your admin API key",
  "login.submit": "Login",
  "login.submitting": "Logging in...",
  "login.show": "Show",
  "login.hide": "Hide",
  "login.hint": "On first run the server generates a key and prints it in its logs.",
});
addStrings("pt-BR", {
  "login.title": "Lunar",
  "login.subtitle": "Informe sua chave de API para acessar o painel",
  "login.key": "Chave de API",
  "login.placeholder": "Sua chave de API de administrador",
  "login.submit": "Entrar",
  "login.submitting": "Entrando...",
  "login.show": "Mostrar",
  "login.hide": "Ocultar",
  "login.hint": "Na primeira execução o servidor gera uma chave e a mostra nos logs.",
});

function nextRoute() {
  const next = m.route.param("next");
  return typeof next === "string" && next.startsWith("/") && !next.startsWith("/login")
    ? next : "/functions";
}

export default {
  oninit: ({state}) => {
    state.key = "";
    state.busy = false;
    state.error = "";
    state.show = false;
  },
  view: ({state}) => {
    const submit = async (e) => {
      e.preventDefault();
      if (!state.key || state.busy) return;
      state.busy = true;
      state.error = "";
      try {
        await api("POST", "/api/auth/login", {apiKey: state.key});
        state.key = "";
        m.route.set(nextRoute());
      } catch (err) {
        state.error = err.message;
      } finally {
        state.busy = false;
        m.redraw();
      }
    };
    return m(".login-page", m("form.card.login-card", {onsubmit: submit}, [
      m(".login-brand", "☾"),
      m("h1", t("login.title")),
      m("p.muted", t("login.subtitle")),
      m("label.field", [
        m("span.label", t("login.key")),
        m(".password-row", [
          m("input.input#api-key", {
            type: state.show ? "text" : "password",
            autocomplete: "current-password",
            placeholder: t("login.placeholder"),
            "data-testid": "login-key",
            value: state.key,
            oninput: (e) => { state.key = e.target.value; },
            oncreate: ({dom}) => dom.focus(),
          }),
          m("button.btn.small", {type: "button", onclick: () => { state.show = !state.show; }},
            state.show ? t("login.hide") : t("login.show")),
        ]),
      ]),
      state.error && m("p.error-text", {"data-testid": "login-error", role: "alert"}, state.error),
      m("button.btn.primary.block", {
        type: "submit", "data-testid": "login-submit", disabled: !state.key || state.busy,
      }, state.busy ? t("login.submitting") : t("login.submit")),
      m("p.muted.small.hint", t("login.hint")),
    ]));
  },
};
