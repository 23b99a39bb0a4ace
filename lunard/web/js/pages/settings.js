// Settings tab: general, env vars, invocation URL, schedule, enable/disable, danger zone.
// Each card saves only what changed in it.
import {api} from "../api.js";
import {t, addStrings} from "../i18n.js";
import {Badge, Card, CopyButton, confirmAction, toast} from "../ui.js";
import {KvEditor} from "../kv_editor.js";

addStrings("en", {
  "settings.general": "General Configuration",
  "settings.name": "Name",
  "settings.description": "Description",
  "settings.retention": "Log Retention Period",
  "settings.retentionHelp": "Executions older than this will be automatically deleted",
  "settings.days": "{{n}} days",
  "settings.year": "1 year",
  "settings.saveResponse": "Save Response",
  "settings.saveResponseHelp": "Store HTTP responses with executions for debugging",
  "settings.saved": "Settings saved successfully",
  "settings.env": "Environment Variables",
  "settings.envHelp": "Read with env.get(key)",
  "settings.envSaved": "Environment variables saved",
  "settings.network": "Network & Triggers",
  "settings.url": "Invocation URL",
  "settings.methods": "Supported Methods",
  "settings.schedule": "Schedule",
  "settings.enableSchedule": "Enable Scheduled Execution",
  "settings.cron": "Cron Expression",
  "settings.cronHelp": "Five fields: minute hour day-of-month month day-of-week.",
  "settings.cronLink": "About cron",
  "settings.nextRun": "Next scheduled run: {{when}}",
  "settings.scheduleSaved": "Schedule saved",
  "settings.preset.minute": "Every minute",
  "settings.preset.5min": "Every 5 minutes",
  "settings.preset.15min": "Every 15 minutes",
  "settings.preset.hour": "Every hour at minute 0",
  "settings.preset.midnight": "Every day at midnight",
  "settings.preset.sunday": "Every Sunday at midnight",
  "settings.status": "Function Status",
  "settings.enableFunction": "Enable Function",
  "settings.statusWarning": "Disabling stops all incoming requests to this function (they get 403).",
  "settings.enabledToast": "Function enabled successfully",
  "settings.disabledToast": "Function disabled successfully",
  "settings.danger": "Danger Zone",
  "settings.dangerHelp": "Deleting a function removes its versions and executions. This cannot be undone.",
  "settings.delete": "Delete Function",
  "settings.confirmDelete": "Delete function \"{{name}}\"? This cannot be undone.",
  "settings.deleted": "Function deleted",
});
addStrings("pt-BR", {
  "settings.general": "Configuração geral",
  "settings.name": "Nome",
  "settings.description": "Descrição",
  "settings.retention": "Período de retenção de logs",
  "settings.retentionHelp": "Execuções mais antigas que isso serão excluídas automaticamente",
  "settings.days": "{{n}} dias",
  "settings.year": "1 ano",
  "settings.saveResponse": "Salvar resposta",
  "settings.saveResponseHelp": "Guardar as respostas HTTP com as execuções para depuração",
  "settings.saved": "Configurações salvas com sucesso",
  "settings.env": "Variáveis de ambiente",
  "settings.envHelp": "Leia com env.get(chave)",
  "settings.envSaved": "Variáveis de ambiente salvas",
  "settings.network": "Rede e gatilhos",
  "settings.url": "URL de invocação",
  "settings.methods": "Métodos suportados",
  "settings.schedule": "Agendamento",
  "settings.enableSchedule": "Ativar execução agendada",
  "settings.cron": "Expressão cron",
  "settings.cronHelp": "Cinco campos: minuto hora dia-do-mês mês dia-da-semana.",
  "settings.cronLink": "Sobre o cron",
  "settings.nextRun": "Próxima execução agendada: {{when}}",
  "settings.scheduleSaved": "Agendamento salvo",
  "settings.preset.minute": "A cada minuto",
  "settings.preset.5min": "A cada 5 minutos",
  "settings.preset.15min": "A cada 15 minutos",
  "settings.preset.hour": "A cada hora no minuto 0",
  "settings.preset.midnight": "Todo dia à meia-noite",
  "settings.preset.sunday": "Todo domingo à meia-noite",
  "settings.status": "Status da função",
  "settings.enableFunction": "Ativar função",
  "settings.statusWarning": "Desativar bloqueia todas as requisições para esta função (elas recebem 403).",
  "settings.enabledToast": "Função ativada com sucesso",
  "settings.disabledToast": "Função desativada com sucesso",
  "settings.danger": "Zona de perigo",
  "settings.dangerHelp": "Excluir uma função remove suas versões e execuções. Não é possível desfazer.",
  "settings.delete": "Excluir função",
  "settings.confirmDelete": "Excluir a função \"{{name}}\"? Não é possível desfazer.",
  "settings.deleted": "Função excluída",
});

const RETENTION = [7, 15, 30, 365];
const PRESETS = [
  ["minute", "* * * * *"], ["5min", "*/5 * * * *"], ["15min", "*/15 * * * *"],
  ["hour", "0 * * * *"], ["midnight", "0 0 * * *"], ["sunday", "0 0 * * 0"],
];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

const fnPath = (id) => `/api/functions/${encodeURIComponent(id)}`;

function saveButton(testid, enabled, busy, onclick) {
  return m("button.btn.primary.small", {"data-testid": testid, disabled: !enabled || busy, onclick},
    busy ? t("common.saving") : t("common.save"));
}

// Runs one card's save: busy flag, the request, toast, reload of the function.
async function run(state, attrs, work, message) {
  state.busy = true;
  try {
    await work();
    toast(typeof message === "function" ? message() : message);
    const fn = await attrs.reload();
    if (fn) state.reset(fn);
  } catch (err) {
    toast(err.message, "error");
  } finally {
    state.busy = false;
    m.redraw();
  }
}

const General = {
  oninit: ({attrs, state}) => {
    state.reset = (fn) => {
      state.base = {name: fn.name, description: fn.description || "", retention_days: fn.retention_days || 7,
        save_response: Boolean(fn.save_response)};
      state.form = {...state.base};
    };
    state.reset(attrs.fn);
  },
  view: ({attrs, state}) => {
    const changes = Object.fromEntries(Object.entries(state.form).filter(([k, v]) => v !== state.base[k]));
    const save = () => run(state, attrs, () => api("PUT", fnPath(attrs.id), changes), t("settings.saved"));
    const f = state.form;
    return m(Card, {title: t("settings.general"), testid: "settings-general",
      actions: saveButton("settings-save-general", Object.keys(changes).length > 0, state.busy, save)}, [
      m("label.field", [m("span.label", t("settings.name")),
        m("input.input.mono", {"data-testid": "settings-name", value: f.name, oninput: (e) => { f.name = e.target.value; }})]),
      m("label.field", [m("span.label", t("settings.description")),
        m("textarea.input", {rows: 2, "data-testid": "settings-description", value: f.description,
          oninput: (e) => { f.description = e.target.value; }})]),
      m("label.field", [m("span.label", t("settings.retention")),
        m("select.input#logRetention", {"data-testid": "settings-retention", value: String(f.retention_days),
          onchange: (e) => { f.retention_days = Number(e.target.value); }},
        RETENTION.map((n) => m("option", {value: String(n)}, n === 365 ? t("settings.year") : t("settings.days", {n})))),
        m("span.help.muted", t("settings.retentionHelp"))]),
      m("label.check-field", [
        m("input[type=checkbox]#save-response", {"data-testid": "settings-save-response", checked: f.save_response,
          onchange: (e) => { f.save_response = e.target.checked; }}),
        m("span", [m("strong", t("settings.saveResponse")), m("span.help.muted", t("settings.saveResponseHelp"))]),
      ]),
    ]);
  },
};

const Network = {
  view: ({attrs}) => {
    const url = `${window.location.origin}/fn/${attrs.id}`;
    return m(Card, {title: t("settings.network")}, [
      m("label.field", [m("span.label", t("settings.url")), m(".copy-row", [
        m("input.input.mono", {readonly: true, value: url, "data-testid": "invocation-url"}),
        m(CopyButton, {text: url, testid: "copy-url"}),
      ])]),
      m(".field", [m("span.label", t("settings.methods")),
        m(".badge-row", METHODS.map((meth) => m(Badge, {kind: "outline"}, meth)))]),
    ]);
  },
};

const Schedule = {
  oninit: ({attrs, state}) => {
    state.loadNext = async () => {
      try { state.next = await api("GET", `${fnPath(attrs.id)}/next-run`); } catch { state.next = null; }
      m.redraw();
    };
    state.reset = (fn) => {
      state.base = {cron_schedule: fn.cron_schedule || "", cron_status: fn.cron_status === "active" ? "active" : "paused"};
      state.form = {...state.base};
      state.loadNext();
    };
    state.reset(attrs.fn);
  },
  view: ({attrs, state}) => {
    const f = state.form;
    const changes = Object.fromEntries(Object.entries(f).filter(([k, v]) => v !== state.base[k]));
    const save = () => run(state, attrs, () => api("PUT", fnPath(attrs.id), changes), t("settings.scheduleSaved"));
    const next = state.next;
    return m(Card, {title: t("settings.schedule"), testid: "settings-schedule",
      actions: saveButton("save-schedule", Object.keys(changes).length > 0, state.busy, save)}, [
      m("label.check-field", [
        m("input[type=checkbox]#enable-schedule", {"data-testid": "enable-schedule", checked: f.cron_status === "active",
          onchange: (e) => { f.cron_status = e.target.checked ? "active" : "paused"; }}),
        m("strong", t("settings.enableSchedule")),
      ]),
      m("label.field", [m("span.label", t("settings.cron")),
        m("input.input.mono", {"data-testid": "cron-input", placeholder: "*/5 * * * *", value: f.cron_schedule,
          oninput: (e) => { f.cron_schedule = e.target.value; }})]),
      m(".preset-row", PRESETS.map(([key, expr]) => m("button.btn.small", {
        type: "button", title: expr, "data-testid": `cron-preset-${key}`, class: f.cron_schedule === expr ? "primary" : "",
        onclick: () => { f.cron_schedule = expr; },
      }, t(`settings.preset.${key}`)))),
      m("p.help.muted", [t("settings.cronHelp"), " ",
        m("a", {href: "https://en.wikipedia.org/wiki/Cron", target: "_blank", rel: "noopener noreferrer"}, t("settings.cronLink"))]),
      next && next.next_run_human && m("p.next-run-info", {"data-testid": "next-run"},
        t("settings.nextRun", {when: next.next_run_human})),
    ]);
  },
};

const Status = {
  oninit: ({attrs, state}) => {
    state.reset = (fn) => { state.base = !fn.disabled; state.enabled = state.base; };
    state.reset(attrs.fn);
  },
  view: ({attrs, state}) => {
    const save = () => run(state, attrs, () => api("PUT", fnPath(attrs.id), {disabled: !state.enabled}),
      () => (state.enabled ? t("settings.enabledToast") : t("settings.disabledToast")));
    return m(Card, {title: t("settings.status"), class: "warning-card", testid: "settings-status",
      actions: saveButton("save-status", state.enabled !== state.base, state.busy, save)}, [
      m("label.check-field", [
        m("input[type=checkbox]#enable-function", {"data-testid": "enable-function", checked: state.enabled,
          onchange: (e) => { state.enabled = e.target.checked; }}),
        m("strong", t("settings.enableFunction")),
      ]),
      m("p.help.warn-text", t("settings.statusWarning")),
    ]);
  },
};

const Danger = {
  view: ({attrs}) => m(Card, {title: t("settings.danger"), class: "danger-card"}, [
    m("p.muted", t("settings.dangerHelp")),
    m("button.btn.danger", {"data-testid": "delete-function", onclick: async () => {
      if (!confirmAction(t("settings.confirmDelete", {name: attrs.fn.name}))) return;
      try {
        await api("DELETE", fnPath(attrs.id));
        toast(t("settings.deleted"));
        m.route.set("/functions");
      } catch (err) { toast(err.message, "error"); }
    }}, t("settings.delete")),
  ]),
};

export default {
  view: ({attrs}) => {
    const props = {id: attrs.id, fn: attrs.fn, reload: attrs.reload};
    const saveEnv = async (entries) => {
      await api("PUT", `${fnPath(attrs.id)}/env`, {env_vars: Object.fromEntries(entries.map((e) => [e.key, e.value]))});
      toast(t("settings.envSaved"));
    };
    return m(".stack", [
      m(General, props),
      m(KvEditor, {title: t("settings.env"), subtitle: t("settings.envHelp"), initial: attrs.fn.env_vars,
        onsave: saveEnv, testid: "settings-env", ids: {add: "env-add", save: "env-save", key: "env-key", value: "env-value"}}),
      m(Network, props),
      m(Schedule, props),
      m(Status, props),
      m(Danger, props),
    ]);
  },
};
