// Create function: name, starter template; success goes back to the list.
import {api} from "../api.js";
import {t, addStrings} from "../i18n.js";
import {Card, toast} from "../ui.js";
import {TEMPLATES} from "../templates.js";

addStrings("en", {
  "create.title": "Create New Function",
  "create.name": "Function Name",
  "create.namePlaceholder": "e.g., payment-webhook",
  "create.template": "Starter Template",
  "create.submit": "Create Function",
  "create.creating": "Creating...",
  "create.created": "Function created successfully",
  "create.nameRequired": "name: name cannot be empty",
  "template.http": "HTTP Template", "template.http.desc": "Handle HTTP requests and return JSON",
  "template.api": "REST API", "template.api.desc": "GET/POST resource with JSON replies",
  "template.aiChat": "AI Chatbot", "template.aiChat.desc": "Answer messages with ai.chat",
  "template.email": "Send Email", "template.email.desc": "Send an email via Resend",
  "template.router": "Router", "template.router.desc": "Route paths like /users/:id",
  "template.blank": "Blank", "template.blank.desc": "Plain text Hello, World!",
});
addStrings("pt-BR", {
  "create.title": "Criar nova função",
  "create.name": "Nome da função",
  "create.namePlaceholder": "ex.: webhook-pagamento",
  "create.template": "Modelo inicial",
  "create.submit": "Criar função",
  "create.creating": "Criando...",
  "create.created": "Função criada com sucesso",
  "create.nameRequired": "name: o nome não pode ser vazio",
  "template.http": "Modelo HTTP", "template.http.desc": "Trata requisições HTTP e devolve JSON",
  "template.api": "API REST", "template.api.desc": "Recurso GET/POST com respostas JSON",
  "template.aiChat": "Chatbot de IA", "template.aiChat.desc": "Responde mensagens com ai.chat",
  "template.email": "Enviar e-mail", "template.email.desc": "Envia um e-mail pelo Resend",
  "template.router": "Roteador", "template.router.desc": "Roteia caminhos como /users/:id",
  "template.blank": "Em branco", "template.blank.desc": "Texto simples Hello, World!",
});

function fieldOf(message) {
  const match = /^(\w+): /.exec(message || "");
  return match ? match[1] : null;
}

export default {
  oninit: ({state}) => {
    state.name = "";
    state.template = "http";
    state.errors = {};
    state.busy = false;
  },
  view: ({state}) => {
    const submit = async (e) => {
      e.preventDefault();
      if (state.busy) return;
      state.errors = {};
      if (!state.name.trim()) {
        state.errors.name = t("create.nameRequired");
        return;
      }
      state.busy = true;
      const template = TEMPLATES.find((tpl) => tpl.id === state.template);
      try {
        await api("POST", "/api/functions", {name: state.name, description: "", code: template.code});
        toast(t("create.created"));
        m.route.set("/functions");
      } catch (err) {
        const field = fieldOf(err.message);
        if (field === "name" || field === "code" || field === "description") state.errors[field] = err.message;
        else toast(err.message, "error");
      } finally {
        state.busy = false;
        m.redraw();
      }
    };
    const pick = (id) => { state.template = id; };
    return m(".page", [
      m(".page-head", m("div", [
        m(m.route.Link, {href: "/functions", class: "btn small back-btn"}, "← " + t("common.back")),
        m("h1", t("create.title")),
      ])),
      m("form", {onsubmit: submit, novalidate: true}, m(Card, [
        m("label.field", [
          m("span.label", t("create.name")),
          m("input.input#function-name", {
            "data-testid": "create-name", placeholder: t("create.namePlaceholder"),
            value: state.name, oninput: (e) => { state.name = e.target.value; },
            "aria-invalid": state.errors.name ? "true" : "false",
            oncreate: ({dom}) => dom.focus(),
          }),
          state.errors.name && m("span.error-text", {"data-testid": "create-name-error"}, state.errors.name),
        ]),
        m(".field", [
          m("span.label", t("create.template")),
          m(".template-grid", {role: "radiogroup"}, TEMPLATES.map((tpl) => m(".template-card", {
            key: tpl.id, tabindex: 0, role: "radio",
            "aria-checked": state.template === tpl.id ? "true" : "false",
            class: state.template === tpl.id ? "selected" : "",
            "data-testid": `template-${tpl.id}`,
            onclick: () => pick(tpl.id),
            onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(tpl.id); } },
          }, [
            m(".template-icon", tpl.icon),
            m(".template-name", t(`template.${tpl.id}`)),
            m(".template-desc.muted", t(`template.${tpl.id}.desc`)),
          ]))),
          state.errors.code && m("span.error-text", state.errors.code),
        ]),
        m(".form-actions", [
          m(m.route.Link, {href: "/functions", class: "btn"}, t("common.cancel")),
          m("button.btn.primary", {type: "submit", "data-testid": "create-submit", disabled: state.busy},
            state.busy ? t("create.creating") : t("create.submit")),
        ]),
      ])),
    ]);
  },
};
