"""lunard: a self-hosted Function-as-a-Service daemon for Lua functions."""

__version__ = "0.1.0"
