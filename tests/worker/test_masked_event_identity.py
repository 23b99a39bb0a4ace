"""`masked_event_json` (worker per-call path, issue 13) gives the text of its former,
generic form: `gojson.dumps` of the masked headers and query, fragments matched one by one."""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from lunard import gojson
from lunard.masking import (
    _HEADER_FRAGMENTS,
    _QUERY_FRAGMENTS,
    REDACTED,
    mask_json_text,
    masked_event_json,
)


def _reference_mask(pairs: Mapping[str, str], fragments: tuple[str, ...]) -> dict[str, str]:
    return {
        name: REDACTED if any(fragment in name.lower() for fragment in fragments) else value
        for name, value in pairs.items()
    }


def reference(
    method: str, path: str, relative: str, headers: dict[str, str], query: dict[str, str],
    body: str,
) -> str:  # fmt: skip
    parts = (
        ("method", gojson.quote(method)),
        ("path", gojson.quote(path)),
        ("relativePath", gojson.quote(relative)),
        ("headers", gojson.dumps(_reference_mask(headers, _HEADER_FRAGMENTS))),
        ("body", gojson.quote(mask_json_text(body))),
        ("query", gojson.dumps(_reference_mask(query, _QUERY_FRAGMENTS))),
    )
    return "{" + ",".join(f'"{key}":{value}' for key, value in parts) + "}"


# Names mix the sensitive fragments, case, non-ASCII (sorting by UTF-8 bytes) and bytes that
# were not UTF-8 (surrogate escapes), values every character Go escapes.
FRAGMENT = st.sampled_from([*_HEADER_FRAGMENTS, *_QUERY_FRAGMENTS, "API_Key", "Token"])
TEXT = st.text(
    alphabet=st.sampled_from(
        [*'aZ09-_ <>&"\\\n\t\x00\x1f', "é", "\u2028", "\U0001f600", "\ue000", "\udcff"]
    ),
    max_size=8,
)
NAME = st.builds(lambda a, f, b: a + f + b, TEXT, FRAGMENT, TEXT) | TEXT
PAIRS = st.dictionaries(NAME, TEXT, max_size=6)
BODY = st.sampled_from(["", '{"password":"x","a":[1,{"token":2}]}', "not json", "[1,2]"]) | TEXT


@settings(max_examples=400, deadline=None)
@given(TEXT, TEXT, TEXT, PAIRS, PAIRS, BODY)
def test_masked_event_json_matches_the_generic_form(
    method: str, path: str, relative: str, headers: dict[str, str], query: dict[str, str],
    body: str,
) -> None:  # fmt: skip
    assert masked_event_json(method, path, relative, headers, query, body) == reference(
        method, path, relative, headers, query, body
    )


def test_a_typical_call() -> None:
    headers = {"User-Agent": "wrk", "Accept": "*/*", "X-Api-Key": "k", "Authorization": "b"}
    query = {"page": "2", "access_token": "t"}
    stored = masked_event_json("GET", "/fn/f", "/", headers, query, '{"secret":"s","n":1}')
    assert stored == reference("GET", "/fn/f", "/", headers, query, '{"secret":"s","n":1}')
    assert stored == (
        '{"method":"GET","path":"/fn/f","relativePath":"/","headers":{"Accept":"*/*",'
        '"Authorization":"[REDACTED]","User-Agent":"wrk","X-Api-Key":"[REDACTED]"},'
        '"body":"{\\"n\\":1,\\"secret\\":\\"[REDACTED]\\"}",'
        '"query":{"access_token":"[REDACTED]","page":"2"}}'
    )
