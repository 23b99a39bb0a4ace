"""The worker process: runs one Lua execution at a time in a sandboxed LuaJIT state."""
