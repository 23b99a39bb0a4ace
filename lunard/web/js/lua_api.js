// The lunard Lua API (lua-runtime.md §2, §6, §7): the Code page's reference sidebar and the
// editor's completions are both drawn from this one table.

const fn = (name, args, returns, description, snippet) => ({name, args, returns, description, snippet});
const field = (name, type, description) => ({name, type, description, snippet: name});

export const LUA_API = [
  {section: "handler", title: "Handler", entries: [
    fn("handler", "ctx, event", "table", "Entry point: function handler(ctx, event) ... return {statusCode, headers, body} end",
      "function handler(ctx, event)\n\t${}\n\treturn {statusCode = 200, body = \"ok\"}\nend"),
    field("ctx.executionId", "string", "Id of this execution"),
    field("ctx.functionId", "string", "Id of the function"),
    field("ctx.version", "string", "Active version number"),
    field("ctx.startedAt", "number", "Unix seconds at start"),
    field("ctx.baseUrl", "string", "The server's base URL"),
    field("event.method", "string", "HTTP method (GET, POST, ...)"),
    field("event.path", "string", "Full request path"),
    field("event.relativePath", "string", "Path after /fn/<id>, \"/\" when empty"),
    field("event.body", "string", "Raw request body"),
    field("event.headers", "table", "Header name -> first value"),
    field("event.query", "table", "Query parameter -> first value"),
  ]},
  {section: "io", title: "I/O", entries: [
    fn("log.info", "message", "nil", "Log at info level", "log.info(${message})"),
    fn("log.debug", "message", "nil", "Log at debug level", "log.debug(${message})"),
    fn("log.warn", "message", "nil", "Log at warn level", "log.warn(${message})"),
    fn("log.error", "message", "nil", "Log at error level", "log.error(${message})"),
    fn("http.get", "url, options?", "response, err", "GET request; options {headers, query}", "http.get(${url})"),
    fn("http.post", "url, options?", "response, err", "POST request; options {headers, query, body}", "http.post(${url}, {body = ${body}})"),
    fn("http.put", "url, options?", "response, err", "PUT request; options {headers, query, body}", "http.put(${url}, {body = ${body}})"),
    fn("http.delete", "url, options?", "response, err", "DELETE request", "http.delete(${url})"),
  ]},
  {section: "data", title: "Data", entries: [
    fn("kv.get", "key", "string|nil", "Read a function-scoped value", "kv.get(${key})"),
    fn("kv.set", "key, value", "boolean", "Store a function-scoped value", "kv.set(${key}, ${value})"),
    fn("kv.delete", "key", "boolean", "Delete a function-scoped value", "kv.delete(${key})"),
    fn("kv.listKeys", "", "table", "Keys of this function's store", "kv.listKeys()"),
    fn("kv.all", "", "table", "All entries of this function's store", "kv.all()"),
    fn("kv.getGlobal", "key", "string|nil", "Read from the global store", "kv.getGlobal(${key})"),
    fn("kv.setGlobal", "key, value", "boolean", "Write to the global store", "kv.setGlobal(${key}, ${value})"),
    fn("kv.deleteGlobal", "key", "boolean", "Delete from the global store", "kv.deleteGlobal(${key})"),
    fn("kv.listGlobalKeys", "", "table", "Keys of the global store", "kv.listGlobalKeys()"),
    fn("kv.allGlobal", "", "table", "All entries of the global store", "kv.allGlobal()"),
    fn("env.get", "key", "string|nil", "Read an environment variable", "env.get(${key})"),
    fn("env.set", "key, value", "boolean", "Set an environment variable", "env.set(${key}, ${value})"),
    fn("env.delete", "key", "boolean", "Delete an environment variable", "env.delete(${key})"),
    fn("json.encode", "value", "string, err", "Encode a Lua value as JSON", "json.encode(${value})"),
    fn("json.decode", "text", "value, err", "Decode JSON text", "json.decode(${text})"),
  ]},
  {section: "router", title: "Router", entries: [
    fn("router.match", "path, pattern", "boolean", "Does the path match \"/users/:id\"?", "router.match(event.relativePath, ${\"/users/:id\"})"),
    fn("router.params", "path, pattern", "table", "Captured :params of a match", "router.params(event.relativePath, ${\"/users/:id\"})"),
    fn("router.path", "pattern, params?", "string", "Build /fn/<id> + pattern", "router.path(${pattern})"),
    fn("router.url", "pattern, params?", "string", "Build the full URL", "router.url(${pattern})"),
  ]},
  {section: "ai", title: "AI", entries: [
    fn("ai.chat", "options", "response, err", "{provider, model, messages, max_tokens?, temperature?} -> {content, model, usage}",
      "ai.chat({\n\tprovider = \"openai\",\n\tmodel = \"gpt-4o-mini\",\n\tmessages = {{role = \"user\", content = ${message}}},\n})"),
  ]},
  {section: "email", title: "Email", entries: [
    fn("email.send", "options", "result, err", "Send via Resend: {from, to, subject, text?, html?} -> {id}",
      "email.send({\n\tfrom = ${\"me@example.com\"},\n\tto = ${to},\n\tsubject = ${subject},\n\ttext = ${text},\n})"),
  ]},
  {section: "utils", title: "Utilities", entries: [
    fn("base64.encode", "text", "string", "Standard base64", "base64.encode(${text})"),
    fn("base64.decode", "text", "string, err", "Decode base64", "base64.decode(${text})"),
    fn("crypto.md5", "text", "string", "MD5 hex digest", "crypto.md5(${text})"),
    fn("crypto.sha1", "text", "string", "SHA-1 hex digest", "crypto.sha1(${text})"),
    fn("crypto.sha256", "text", "string", "SHA-256 hex digest", "crypto.sha256(${text})"),
    fn("crypto.sha512", "text", "string", "SHA-512 hex digest", "crypto.sha512(${text})"),
    fn("crypto.hmac_sha1", "message, key", "string", "HMAC-SHA1 hex", "crypto.hmac_sha1(${message}, ${key})"),
    fn("crypto.hmac_sha256", "message, key", "string", "HMAC-SHA256 hex", "crypto.hmac_sha256(${message}, ${key})"),
    fn("crypto.hmac_sha512", "message, key", "string", "HMAC-SHA512 hex", "crypto.hmac_sha512(${message}, ${key})"),
    fn("crypto.uuid", "", "string", "Random UUID v4", "crypto.uuid()"),
    fn("time.now", "", "number", "Unix seconds", "time.now()"),
    fn("time.format", "timestamp, layout", "string", "Format with a Go layout", "time.format(${timestamp}, ${\"2006-01-02\"})"),
    fn("time.parse", "text, layout", "number, err", "Parse with a Go layout", "time.parse(${text}, ${\"2006-01-02\"})"),
    fn("time.sleep", "ms", "nil", "Sleep for milliseconds", "time.sleep(${ms})"),
    fn("url.parse", "text", "table, err", "Parse a URL", "url.parse(${text})"),
    fn("url.encode", "text", "string", "Query-escape", "url.encode(${text})"),
    fn("url.decode", "text", "string, err", "Query-unescape", "url.decode(${text})"),
    fn("strings.trim", "s", "string", "Trim whitespace", "strings.trim(${s})"),
    fn("strings.trimLeft", "s", "string", "Trim leading whitespace", "strings.trimLeft(${s})"),
    fn("strings.trimRight", "s", "string", "Trim trailing whitespace", "strings.trimRight(${s})"),
    fn("strings.split", "s, sep", "table", "Split into parts", "strings.split(${s}, ${sep})"),
    fn("strings.join", "parts, sep", "string", "Join parts", "strings.join(${parts}, ${sep})"),
    fn("strings.hasPrefix", "s, prefix", "boolean", "Starts with?", "strings.hasPrefix(${s}, ${prefix})"),
    fn("strings.hasSuffix", "s, suffix", "boolean", "Ends with?", "strings.hasSuffix(${s}, ${suffix})"),
    fn("strings.contains", "s, sub", "boolean", "Contains?", "strings.contains(${s}, ${sub})"),
    fn("strings.replace", "s, old, new, n?", "string", "Replace occurrences", "strings.replace(${s}, ${old}, ${new})"),
    fn("strings.toLower", "s", "string", "Lower case", "strings.toLower(${s})"),
    fn("strings.toUpper", "s", "string", "Upper case", "strings.toUpper(${s})"),
    fn("strings.repeat", "s, n", "string", "Repeat n times", "strings.repeat(${s}, ${n})"),
    fn("random.int", "min, max", "number", "Integer in [min, max]", "random.int(${min}, ${max})"),
    fn("random.float", "", "number", "Float in [0, 1)", "random.float()"),
    fn("random.string", "length", "string", "Alphanumeric string", "random.string(${length})"),
    fn("random.bytes", "length", "string", "Random bytes, base64", "random.bytes(${length})"),
    fn("random.hex", "length", "string", "Random bytes, hex", "random.hex(${length})"),
    fn("random.id", "", "string", "A sortable xid", "random.id()"),
  ]},
];

// Snippet templates offered by name in the editor (§7.4.1).
export const LUA_SNIPPETS = [
  {label: "handler", detail: "handler function", template:
    "function handler(ctx, event)\n\t${}\n\treturn {\n\t\tstatusCode = 200,\n\t\theaders = {[\"Content-Type\"] = \"application/json\"},\n\t\tbody = json.encode({ok = true}),\n\t}\nend"},
  {label: "example-counter", detail: "KV counter", template:
    "function handler(ctx, event)\n\tlocal n = tonumber(kv.get(\"count\") or \"0\") + 1\n\tkv.set(\"count\", tostring(n))\n\treturn {statusCode = 200, body = tostring(n)}\nend"},
  {label: "example-hello", detail: "hello world", template:
    "function handler(ctx, event)\n\treturn {statusCode = 200, body = \"Hello, ${World}!\"}\nend"},
  {label: "example-health", detail: "health check", template:
    "function handler(ctx, event)\n\treturn {\n\t\tstatusCode = 200,\n\t\theaders = {[\"Content-Type\"] = \"application/json\"},\n\t\tbody = json.encode({status = \"ok\", time = time.now()}),\n\t}\nend"},
];
