"""Reading fields of the option tables `http.*`, `ai.chat` and `email.send` take (§5.2).

Upstream reads option fields leniently: strings through "as-string" (`field_string`),
numbers through "number or numeric string, else 0" (`field_number`). Fields are looked up
with bytes keys, which address the same Lua string whether or not the runtime decodes.
"""

from __future__ import annotations

import math
from typing import Any

from lunard.worker.modules.bridge import as_text, field_string, is_table

__all__ = ["field", "field_number", "field_string", "field_text", "is_table"]


def field(table: Any, name: str) -> Any:
    """`table[name]` (metamethods apply, as with GopherLua's GetField)."""
    return table[name.encode()]


def field_text(table: Any, name: str) -> str:
    """The as-string of `table[name]` as valid text (invalid UTF-8 bytes → U+FFFD)."""
    return field_string(field(table, name)).decode("utf-8", "replace")


def field_number(value: Any) -> float:
    """GopherLua's LVAsNumber: numbers, numeric strings (decimal or `0x` hex), else 0."""
    if isinstance(value, bool) or value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, (str, bytes)):
        return 0.0
    text = as_text(value).strip()
    if "_" in text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        pass
    sign = -1.0 if text.startswith("-") else 1.0
    digits = text.lstrip("+-")
    if digits[:2].lower() == "0x":
        try:
            return sign * float(int(digits[2:], 16))
        except ValueError:
            return 0.0
    return 0.0


def finite(value: float) -> bool:
    """Whether a number can be written as JSON."""
    return not (math.isnan(value) or math.isinf(value))
