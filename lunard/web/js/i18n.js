// Translations: en is the source of truth, pt-BR the second locale (platform.md §7.6).
// The chosen locale lives in localStorage["lunar-locale"] (a preference, not a secret).

const STORAGE_KEY = "lunar-locale";
export const LANGUAGES = {"en": "English", "pt-BR": "Português (Brasil)"};
const dictionaries = {"en": {}, "pt-BR": {}};
const state = {lang: initialLang()};

function initialLang() {
  let saved = null;
  try { saved = window.localStorage.getItem(STORAGE_KEY); } catch { /* private mode */ }
  if (saved && saved in LANGUAGES) return saved;
  const nav = navigator.language || "en";
  if (nav in LANGUAGES) return nav;
  return nav.toLowerCase().startsWith("pt") ? "pt-BR" : "en";
}

export function addStrings(lang, dict) {
  Object.assign(dictionaries[lang] || (dictionaries[lang] = {}), dict);
}

export function lang() {
  return state.lang;
}

export function setLang(next) {
  if (!(next in LANGUAGES)) return;
  state.lang = next;
  try { window.localStorage.setItem(STORAGE_KEY, next); } catch { /* ignore */ }
  document.documentElement.lang = next;
  if (window.m) m.redraw();
}

function interpolate(text, params) {
  if (!params) return text;
  return text.replace(/\{\{\s*(\w+)\s*\}\}/g, (all, name) =>
    name in params ? String(params[name]) : all);
}

export function t(key, params) {
  let text = dictionaries[state.lang][key];
  if (text === undefined) text = dictionaries.en[key];
  if (text === undefined) {
    console.warn(`i18n: missing key ${key}`);
    text = key;
  }
  return interpolate(text, params);
}

addStrings("en", {
  "app.brand": "Dashboard",
  "app.title": "lunar Dashboard",
  "nav.functions": "Functions",
  "nav.analytics": "Analytics",
  "nav.sql": "SQL",
  "nav.clients": "Clients",
  "nav.search": "Search",
  "nav.logout": "Logout",
  "nav.language": "Language",
  "common.save": "Save Changes",
  "common.saving": "Saving...",
  "common.cancel": "Cancel",
  "common.delete": "Delete",
  "common.back": "Back",
  "common.copy": "Copy",
  "common.copied": "Copied!",
  "common.loading": "Loading...",
  "common.na": "N/A",
  "common.enabled": "Enabled",
  "common.disabled": "Disabled",
  "common.noDescription": "No description",
  "common.error": "Something went wrong: {{message}}",
  "common.retry": "Retry",
  "common.refresh": "Refresh",
  "pagination.showing": "Showing {{from}} to {{to}} of {{total}}",
  "pagination.perPage": "Per page",
  "pagination.previous": "Previous",
  "pagination.next": "Next",
  "status.success": "SUCCESS",
  "status.error": "ERROR",
  "status.pending": "PENDING",
  "tabs.code": "Code",
  "tabs.versions": "Versions",
  "tabs.executions": "Executions",
  "tabs.data": "Data",
  "tabs.settings": "Settings",
  "tabs.test": "Test",
  "tabs.analytics": "Analytics",
  "kv.key": "Key",
  "kv.value": "Value",
  "kv.remove": "Remove",
  "kv.restore": "Restore",
});

addStrings("pt-BR", {
  "app.brand": "Painel",
  "app.title": "lunar Dashboard",
  "nav.functions": "Funções",
  "nav.analytics": "Análises",
  "nav.sql": "SQL",
  "nav.clients": "Clientes",
  "nav.search": "Buscar",
  "nav.logout": "Sair",
  "nav.language": "Idioma",
  "common.save": "Salvar alterações",
  "common.saving": "Salvando...",
  "common.cancel": "Cancelar",
  "common.delete": "Excluir",
  "common.back": "Voltar",
  "common.copy": "Copiar",
  "common.copied": "Copiado!",
  "common.loading": "Carregando...",
  "common.na": "N/D",
  "common.enabled": "Ativada",
  "common.disabled": "Desativada",
  "common.noDescription": "Sem descrição",
  "common.error": "Algo deu errado: {{message}}",
  "common.retry": "Tentar de novo",
  "common.refresh": "Atualizar",
  "pagination.showing": "Mostrando {{from}} a {{to}} de {{total}}",
  "pagination.perPage": "Por página",
  "pagination.previous": "Anterior",
  "pagination.next": "Próxima",
  "status.success": "SUCESSO",
  "status.error": "ERRO",
  "status.pending": "PENDENTE",
  "tabs.code": "Código",
  "tabs.versions": "Versões",
  "tabs.executions": "Execuções",
  "tabs.data": "Dados",
  "tabs.settings": "Configurações",
  "tabs.test": "Testar",
  "tabs.analytics": "Análises",
  "kv.key": "Chave",
  "kv.value": "Valor",
  "kv.remove": "Remover",
  "kv.restore": "Restaurar",
});
