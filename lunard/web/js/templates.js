// Starter templates of the create page (platform.md §7.3), in their fixed order.
export const TEMPLATES = [
  {id: "http", icon: "🌐", code: `function handler(ctx, event)
  log.info("Request: " .. event.method .. " " .. event.path)
  return {
    statusCode = 200,
    headers = {["Content-Type"] = "application/json"},
    body = json.encode({
      message = "Hello from Lua!",
      method = event.method,
      path = event.path,
    }),
  }
end
`},
  {id: "api", icon: "🔌", code: `local function reply(status, data)
  return {
    statusCode = status,
    headers = {["Content-Type"] = "application/json"},
    body = json.encode(data),
  }
end

function handler(ctx, event)
  if event.method == "GET" then
    return reply(200, {items = {}, total = 0})
  elseif event.method == "POST" then
    return reply(201, {id = crypto.uuid(), created = true})
  end
  return reply(405, {error = "Method not allowed"})
end
`},
  {id: "aiChat", icon: "🤖", code: `-- Needs OPENAI_API_KEY (or ANTHROPIC_API_KEY) in the function's environment variables.
function handler(ctx, event)
  local input = json.decode(event.body or "") or {}
  if not input.message then
    return {statusCode = 400, body = json.encode({error = "message is required"})}
  end
  local response, err = ai.chat({
    provider = "openai",
    model = "gpt-4o-mini",
    messages = {
      {role = "system", content = "You are a helpful assistant."},
      {role = "user", content = input.message},
    },
    max_tokens = 500,
  })
  if err then
    return {statusCode = 500, body = json.encode({error = err})}
  end
  return {
    statusCode = 200,
    headers = {["Content-Type"] = "application/json"},
    body = json.encode({
      reply = response.content,
      model = response.model,
      tokens = response.usage.input_tokens + response.usage.output_tokens,
    }),
  }
end
`},
  {id: "email", icon: "✉️", code: `-- Needs RESEND_API_KEY in the function's environment variables.
function handler(ctx, event)
  local input = json.decode(event.body or "") or {}
  if not input.to or not input.subject then
    return {statusCode = 400, body = json.encode({error = "to and subject are required"})}
  end
  local result, err = email.send({
    from = "onboarding@resend.dev",
    to = input.to,
    subject = input.subject,
    text = input.text or "Sent from a lunard function.",
  })
  if err then
    return {statusCode = 500, body = json.encode({success = false, error = err})}
  end
  return {
    statusCode = 200,
    headers = {["Content-Type"] = "application/json"},
    body = json.encode({success = true, email_id = result.id}),
  }
end
`},
  {id: "router", icon: "🧭", code: `local function reply(status, data)
  return {
    statusCode = status,
    headers = {["Content-Type"] = "application/json"},
    body = json.encode(data),
  }
end

function handler(ctx, event)
  local path = event.relativePath
  if event.method == "GET" and router.match(path, "/users") then
    return reply(200, {users = {}})
  elseif event.method == "GET" and router.match(path, "/users/:id") then
    local params = router.params(path, "/users/:id")
    return reply(200, {id = params.id})
  elseif event.method == "POST" and router.match(path, "/users") then
    return reply(201, {created = true})
  end
  return reply(404, {error = "Not found"})
end
`},
  {id: "blank", icon: "📄", code: `function handler(ctx, event)
  return {
    statusCode = 200,
    headers = {["Content-Type"] = "text/plain"},
    body = "Hello, World!",
  }
end
`},
];
