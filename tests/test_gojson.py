"""The fast paths of `gojson` give exactly what the general paths give."""

from __future__ import annotations

import random

from lunard import gojson


def test_quote_fast_path_matches_full_escaping() -> None:
    rng = random.Random(7)
    alphabet = 'ab<>&"\\\n\t\x01\x7féé\u2028\u2029\udcff€ '
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert gojson.quote(text) == '"' + text.translate(gojson._ESCAPES) + '"'


def test_integer_fast_path_matches_float_formatting() -> None:
    rng = random.Random(11)
    values = [0, 1, -1, 1000, 10**15, 2**53 - 1, -(2**53 - 1)]
    values += [rng.randint(-(2**53 - 1), 2**53 - 1) for _ in range(2000)]
    for value in values:
        assert gojson.format_number(value) == gojson.format_number(float(value))
    assert gojson.format_number(2**60) == gojson.format_number(float(2**60))


def test_string_map_fast_path_matches_dumps() -> None:
    rng = random.Random(13)
    alphabet = 'aZ<&"\\\n\x01é€\u2028\udcff😀 '

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))

    for _ in range(2000):
        pairs = {text(): text() for _ in range(rng.randint(0, 6))}
        assert gojson.dumps_string_map(pairs) == gojson.dumps(pairs)
    odd = {"a": 1, "b": None}  # not str -> str: the general path answers
    assert gojson.dumps_string_map(odd) == gojson.dumps(odd)  # type: ignore[arg-type]
