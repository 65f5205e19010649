"""Request bodies of the admin actions, drawn by Hypothesis: any JSON at all (objects where text
belongs, integers past 64 bits, half surrogate pairs, odd keys) is answered without a 5xx, and
what an audit entry keeps of a body is only what passed the checks, so Firestore can store it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_api_properties import Api, send
from video_monitoring.core.errors import InvalidArgument
from video_monitoring.dashboard.params import json_body

INT64 = (-(2**63), 2**63 - 1)


def storable(value: Any) -> bool:
    """Whether Firestore could store the value: integers within 64 bits, text that encodes as
    UTF-8, maps with non-empty text keys."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return True
    if isinstance(value, int):
        return INT64[0] <= value <= INT64[1]
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, list):
        return all(storable(v) for v in value)
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and k and storable(k) and storable(v) for k, v in value.items()
        )
    return False


SURROGATE_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.characters(), max_size=8
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | SURROGATE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SURROGATE_TEXT, inner, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(["note", "minutes", "reason"])
BODIES = st.dictionaries(FIELDS, JSON, max_size=2)
ACTIONS = [
    "/alerts/{alertId}/acknowledge",
    "/alerts/{alertId}/resolve",
    "/alerts/{alertId}/suppress",
    "/provider-controls/runway/pause",
    "/provider-controls/runway/release",
]


def encoded(body: dict[str, Any]) -> bytes:
    """The body as a client would send it (half surrogates escaped, as JSON allows)."""
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def api() -> Api:
    return Api()


@pytest.fixture(scope="module")
def alert_id(api: Api) -> str:
    return str(next(iter(api.world.alerts.instances)))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(ACTIONS), body=BODIES)
def test_any_body_is_answered_and_audited_storably(
    api: Api, alert_id: str, path: str, body: dict[str, Any]
) -> None:
    before = len(api.audit.entries)
    response = send(api, "POST", path.replace("{alertId}", alert_id), {}, "tok-admin", body)
    assert response.status < 500, (path, body, response.body)
    for entry in api.audit.entries[before:]:
        assert storable(entry.details), (path, body, entry.details)


def test_half_a_surrogate_pair_is_a_400_naming_the_body() -> None:
    with pytest.raises(InvalidArgument, match=r"^body: .*surrogate"):
        json_body(b'{"note": "\\ud83d"}', optional=False)
    assert json_body(b'{"note": "\\ud83d\\ude00"}', optional=False) == {"note": "\U0001f600"}
