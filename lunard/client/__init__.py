"""`lunar`: the command-line client of a lunard (or Lunar) server, over its HTTP API.

Modules: `cli` (the root command and entry point), `commands/` (one module per command
group), `api` (the HTTP client), `config` (the config file and option precedence),
`output` and `views` (JSON and tables), `inputs` (option value types), `device_login`,
`deploy` and `logs` (the flows behind the commands of the same names), `skills/` (the
bundled guides).
"""
