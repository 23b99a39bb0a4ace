// Shared view pieces: toasts, badges, cards, pagination, formatting helpers.
import {t, lang} from "./i18n.js";

const TOAST_MS = 4000;

// A toast is plain DOM in one fixed container, so it survives route changes and needs no
// shared state.
export function toast(message, kind = "success") {
  let area = document.getElementById("toast-area");
  if (!area) {
    area = document.createElement("div");
    area.id = "toast-area";
    area.className = "toast-area";
    area.setAttribute("aria-live", "polite");
    document.body.appendChild(area);
  }
  const el = document.createElement("div");
  el.className = `toast ${kind}`;
  el.dataset.testid = "toast";
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.textContent = message;
  el.addEventListener("click", () => el.remove());
  area.appendChild(el);
  setTimeout(() => el.remove(), TOAST_MS);
}

export const Badge = {
  view: ({attrs, children}) =>
    m("span.badge", {class: attrs.kind || "muted", title: attrs.title,
      "data-testid": attrs.testid}, children),
};

export const IdBadge = {
  view: ({attrs}) => m("span.badge.outline.mono.id-badge", {title: attrs.id}, attrs.label || attrs.id),
};

const STATUS_KINDS = {success: "success", error: "error", pending: "warn"};
export const StatusBadge = {
  view: ({attrs}) => m(Badge, {kind: STATUS_KINDS[attrs.status] || "muted", testid: attrs.testid},
    t(`status.${attrs.status}`) === `status.${attrs.status}` ? attrs.status : t(`status.${attrs.status}`)),
};

export const Card = {
  view: ({attrs, children}) => m("section.card", {class: attrs.class, "data-testid": attrs.testid}, [
    (attrs.title || attrs.actions) && m(".card-head", [
      m("div", [
        attrs.title && m("h2.card-title", attrs.title),
        attrs.subtitle && m(".card-subtitle.muted", attrs.subtitle),
      ]),
      attrs.actions && m(".card-actions", attrs.actions),
    ]),
    m(".card-body", {class: attrs.flush ? "flush" : ""}, children),
  ]),
};

export const Spinner = {
  view: () => m(".spinner", {role: "status", "aria-label": t("common.loading")}, m("span"), t("common.loading")),
};

export const EmptyState = {
  view: ({attrs, children}) => m(".empty-state", {"data-testid": attrs.testid || "empty-state"}, [
    attrs.icon && m(".empty-icon", attrs.icon),
    m("p", attrs.message),
    children,
  ]),
};

export const ErrorState = {
  view: ({attrs}) => m(".error-state", {role: "alert"}, [
    m("p", t("common.error", {message: attrs.message})),
    attrs.onretry && m("button.btn.small", {onclick: attrs.onretry}, t("common.retry")),
  ]),
};

const PAGE_SIZES = [10, 20, 50];

export const Pagination = {
  view: ({attrs}) => {
    const {total = 0, limit = 20, offset = 0, onchange} = attrs;
    if (!total) return null;
    const from = Math.min(offset + 1, total);
    const to = Math.min(offset + limit, total);
    return m(".pagination", {"data-testid": attrs.testid || "pagination"}, [
      m("span.muted", t("pagination.showing", {from, to, total})),
      m("label.per-page", [
        m("span.muted", t("pagination.perPage")),
        m("select.input.small", {
          value: String(limit),
          onchange: (e) => onchange(Number(e.target.value), 0),
        }, PAGE_SIZES.map((size) => m("option", {value: String(size)}, size))),
      ]),
      m(".pager", [
        m("button.btn.small", {disabled: offset <= 0,
          onclick: () => onchange(limit, Math.max(0, offset - limit))}, t("pagination.previous")),
        m("button.btn.small", {disabled: offset + limit >= total,
          onclick: () => onchange(limit, offset + limit)}, t("pagination.next")),
      ]),
    ]);
  },
};

export const CopyButton = {
  oninit: ({state}) => { state.copied = false; },
  view: ({attrs, state}) => m("button.btn.small", {
    type: "button",
    "data-testid": attrs.testid,
    onclick: async () => {
      await copyText(typeof attrs.text === "function" ? attrs.text() : attrs.text);
      state.copied = true;
      m.redraw();
      setTimeout(() => { state.copied = false; m.redraw(); }, 2000);
    },
  }, state.copied ? t("common.copied") : t("common.copy")),
};

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

export function formatDuration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(Number(ms))) return t("common.na");
  const n = Number(ms);
  if (n >= 1000) return `${(n / 1000).toFixed(2)}s`;
  return `${Math.round(n)}ms`;
}

export function formatTime(value, variant = "datetime") {
  if (value === undefined || value === null || value === 0 || value === "") return t("common.na");
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return t("common.na");
  if (variant === "date") return date.toLocaleDateString(lang());
  if (variant === "time") return date.toLocaleTimeString(lang());
  return date.toLocaleString(lang());
}

export function truncate(text, n = 5000) {
  if (typeof text !== "string" || text.length <= n) return text;
  return `${text.slice(0, n)}\n... (truncated)`;
}

export function prettyJson(text) {
  if (text === undefined || text === null || text === "") return "";
  try {
    return JSON.stringify(typeof text === "string" ? JSON.parse(text) : text, null, 2);
  } catch {
    return String(text);
  }
}

export function confirmAction(message) {
  return window.confirm(message);
}

const loaded = new Map();

function once(url, create) {
  if (!loaded.has(url)) {
    loaded.set(url, new Promise((resolve, reject) => {
      const el = create();
      el.onload = () => resolve();
      el.onerror = () => { loaded.delete(url); reject(new Error(`cannot load ${url}`)); };
      document.head.appendChild(el);
    }));
  }
  return loaded.get(url);
}

export function loadScript(url) {
  return once(url, () => Object.assign(document.createElement("script"), {src: url}));
}

export function loadStyle(url) {
  return once(url, () => Object.assign(document.createElement("link"), {rel: "stylesheet", href: url}));
}
