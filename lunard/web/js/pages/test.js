// Test tab: a request builder that really calls /fn/<id>, code examples of the same
// request, and the response with a link to its execution and that execution's logs.
import {api} from "../api.js";
import {t, addStrings} from "../i18n.js";
import {Badge, Card, CopyButton, Spinner, formatDuration, prettyJson} from "../ui.js";
import {CodeViewer} from "../editor.js";

addStrings("en", {
  "test.examples": "Code Examples",
  "test.request": "Request",
  "test.method": "Method",
  "test.url": "URL",
  "test.path": "Path",
  "test.query": "Query String",
  "test.headers": "Headers (JSON)",
  "test.body": "Body",
  "test.send": "Send Request",
  "test.sending": "Sending...",
  "test.response": "Response",
  "test.noResponse": "Send a request to see the response here.",
  "test.viewExecution": "View Execution",
  "test.responseHeaders": "Headers",
  "test.responseBody": "Body",
  "test.logs": "Logs",
  "test.noLogs": "No logs available",
  "test.badHeaders": "Headers must be a JSON object of strings",
  "test.networkError": "Request failed: {{message}}",
});
addStrings("pt-BR", {
  "test.examples": "Exemplos de código",
  "test.request": "Requisição",
  "test.method": "Método",
  "test.url": "URL",
  "test.path": "Caminho",
  "test.query": "Query string",
  "test.headers": "Cabeçalhos (JSON)",
  "test.body": "Corpo",
  "test.send": "Enviar requisição",
  "test.sending": "Enviando...",
  "test.response": "Resposta",
  "test.noResponse": "Envie uma requisição para ver a resposta aqui.",
  "test.viewExecution": "Ver execução",
  "test.responseHeaders": "Cabeçalhos",
  "test.responseBody": "Corpo",
  "test.logs": "Logs",
  "test.noLogs": "Nenhum log disponível",
  "test.badHeaders": "Os cabeçalhos devem ser um objeto JSON de strings",
  "test.networkError": "A requisição falhou: {{message}}",
});

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"];
const DEFAULT_HEADERS = '{\n  "Content-Type": "application/json"\n}';

function parseHeaders(text) {
  if (!text.trim()) return {};
  const value = JSON.parse(text);
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

function fullUrl(id, req) {
  let path = req.path.trim();
  if (path && !path.startsWith("/")) path = `/${path}`;
  const query = req.query.trim().replace(/^\?/, "");
  return `${window.location.origin}/fn/${id}${path}${query ? `?${query}` : ""}`;
}

const hasBody = (req) => req.method !== "GET" && req.body !== "";
const sq = (s) => `'${s.replace(/'/g, "'\\''")}'`;

function headerList(req) {
  try { return Object.entries(parseHeaders(req.headers)); } catch { return []; }
}

const EXAMPLES = {
  curl: {label: "cURL", language: "shell", make: (url, req) => [
    `curl -X ${req.method} ${sq(url)}`,
    ...headerList(req).map(([k, v]) => `  -H ${sq(`${k}: ${v}`)}`),
    ...(hasBody(req) ? [`  -d ${sq(req.body)}`] : []),
  ].join(" \\\n")},
  javascript: {label: "JavaScript (fetch)", language: "javascript", make: (url, req) => {
    const opts = [`  method: ${JSON.stringify(req.method)},`];
    const headers = headerList(req);
    if (headers.length) opts.push(`  headers: ${JSON.stringify(Object.fromEntries(headers), null, 2).replace(/\n/g, "\n  ")},`);
    if (hasBody(req)) opts.push(`  body: ${JSON.stringify(req.body)},`);
    return `const response = await fetch(${JSON.stringify(url)}, {\n${opts.join("\n")}\n});\nconsole.log(response.status, await response.text());`;
  }},
  python: {label: "Python (requests)", language: "python", make: (url, req) => {
    const args = [JSON.stringify(url)];
    const headers = headerList(req);
    if (headers.length) args.push(`headers=${JSON.stringify(Object.fromEntries(headers))}`);
    if (hasBody(req)) args.push(`data=${JSON.stringify(req.body)}`);
    return `import requests\n\nresponse = requests.request(${JSON.stringify(req.method)}, ${args.join(", ")})\nprint(response.status_code, response.text)`;
  }},
  go: {label: "Go (net/http)", language: "go", make: (url, req) => {
    const body = hasBody(req) ? `strings.NewReader(${JSON.stringify(req.body)})` : "nil";
    const headers = headerList(req).map(([k, v]) => `\treq.Header.Set(${JSON.stringify(k)}, ${JSON.stringify(v)})`).join("\n");
    const imports = ["fmt", "io", "net/http", ...(hasBody(req) ? ["strings"] : [])].map((p) => `\t"${p}"`).join("\n");
    return `package main\n\nimport (\n${imports}\n)\n\nfunc main() {\n\treq, _ := http.NewRequest(${JSON.stringify(req.method)}, ${JSON.stringify(url)}, ${body})\n${headers ? headers + "\n" : ""}\tresp, err := http.DefaultClient.Do(req)\n\tif err != nil {\n\t\tpanic(err)\n\t}\n\tdefer resp.Body.Close()\n\tdata, _ := io.ReadAll(resp.Body)\n\tfmt.Println(resp.StatusCode, string(data))\n}`;
  }},
};

const Examples = {
  oninit: ({state}) => { state.lang = "curl"; },
  view: ({attrs, state}) => {
    const ex = EXAMPLES[state.lang];
    const code = ex.make(attrs.url, attrs.req);
    return m(Card, {title: t("test.examples"), testid: "test-examples", actions: [
      m("select.input.small", {value: state.lang, "data-testid": "test-example-lang",
        onchange: (e) => { state.lang = e.target.value; }},
      Object.entries(EXAMPLES).map(([key, v]) => m("option", {value: key}, v.label))),
      m(CopyButton, {text: code, testid: "test-example-copy"}),
    ]}, m(CodeViewer, {key: state.lang, language: ex.language, value: code, class: "example-code"}));
  },
};

const ResponseCard = {
  view: ({attrs: {res, logs}}) => {
    if (!res) return m(Card, {title: t("test.response")}, m("p.muted", t("test.noResponse")));
    if (res.error) return m(Card, {title: t("test.response")}, m("p.error-text", {"data-testid": "test-error"}, res.error));
    const execId = res.headers["x-execution-id"];
    const type = res.headers["content-type"] || "";
    const body = type.includes("json") ? prettyJson(res.body) : res.body;
    return m(Card, {title: t("test.response"), testid: "test-response", actions: [
      m(Badge, {kind: res.status === 200 ? "success" : res.status < 400 ? "warn" : "error", testid: "test-status"}, String(res.status)),
      m(Badge, {kind: "muted"}, formatDuration(res.ms)),
      execId && m(m.route.Link, {href: `/executions/${execId}`, class: "btn small", "data-testid": "test-exec-link"}, t("test.viewExecution")),
    ]}, [
      m("details.response-headers", [m("summary", t("test.responseHeaders")),
        m("dl.kv-list", Object.entries(res.headers).map(([k, v]) => [m("dt.mono", k), m("dd.mono", v)]))]),
      m("h4", t("test.responseBody")),
      m("pre.json.response-body", {"data-testid": "test-response-body"}, body),
      execId && [m("h4", t("test.logs")), logs === undefined ? m(Spinner)
        : logs.length ? m("ul.log-list", {"data-testid": "test-logs"}, logs.map((log, i) => m("li.log-entry", {key: i}, [
          m("span.level-pill", {class: log.level}, log.level.toUpperCase()), m("pre.log-message", log.message)])))
          : m("p.muted", {"data-testid": "test-logs"}, t("test.noLogs"))],
    ]);
  },
};

export default {
  oninit: ({attrs, state}) => {
    state.req = {method: "GET", path: "", query: "", headers: DEFAULT_HEADERS, body: ""};
    state.busy = false;
    state.send = async () => {
      const req = state.req;
      let headers;
      try { headers = parseHeaders(req.headers); } catch {
        state.res = {error: t("test.badHeaders")};
        return;
      }
      state.busy = true;
      state.res = null;
      state.logs = undefined;
      const started = performance.now();
      try {
        const response = await fetch(fullUrl(attrs.id, req), {
          method: req.method, headers, body: hasBody(req) ? req.body : undefined,
          credentials: "omit", cache: "no-store",
        });
        const text = await response.text();
        const all = {};
        response.headers.forEach((v, k) => { all[k] = v; });
        state.res = {status: response.status, headers: all, body: text, ms: performance.now() - started};
        const execId = all["x-execution-id"];
        if (execId) {
          api("GET", `/api/executions/${encodeURIComponent(execId)}/logs?limit=100`)
            .then((data) => { state.logs = data.logs || []; })
            .catch(() => { state.logs = []; })
            .finally(() => m.redraw());
        }
      } catch (err) {
        state.res = {error: t("test.networkError", {message: err.message})};
      } finally {
        state.busy = false;
        m.redraw();
      }
    };
  },
  view: ({attrs, state}) => {
    const req = state.req;
    const url = fullUrl(attrs.id, req);
    const bind = (field) => ({value: req[field], oninput: (e) => { req[field] = e.target.value; }});
    return m(".stack", [
      m(Examples, {url, req}),
      m(".test-grid", [
        m(Card, {title: t("test.request"), testid: "test-request"}, m("form", {onsubmit: (e) => { e.preventDefault(); state.send(); }}, [
          m(".form-row", [
            m("label.field.narrow", [m("span.label", t("test.method")),
              m("select.input", {"data-testid": "test-method", value: req.method,
                onchange: (e) => { req.method = e.target.value; }}, METHODS.map((x) => m("option", {value: x}, x)))]),
            m("label.field.grow", [m("span.label", t("test.url")), m(".copy-row", [
              m("input.input.mono", {readonly: true, value: url, "data-testid": "test-url"}),
              m(CopyButton, {text: url})])]),
          ]),
          m("label.field", [m("span.label", t("test.path")),
            m("input.input.mono", {"data-testid": "test-path", placeholder: "/users/123", ...bind("path")})]),
          m("label.field", [m("span.label", t("test.query")),
            m("input.input.mono", {"data-testid": "test-query", placeholder: "key=value&other=value", ...bind("query")})]),
          m("label.field", [m("span.label", t("test.headers")),
            m("textarea.input.mono", {rows: 3, "data-testid": "test-headers", ...bind("headers")})]),
          m("label.field", [m("span.label", t("test.body")),
            m("textarea.input.mono", {rows: 5, "data-testid": "test-body",
              placeholder: '{"key": "value"}', ...bind("body")})]),
          m("button.btn.primary.block", {type: "submit", "data-testid": "test-send", disabled: state.busy},
            state.busy ? t("test.sending") : t("test.send")),
        ])),
        m(ResponseCard, {res: state.res, logs: state.logs}),
      ]),
    ]);
  },
};
