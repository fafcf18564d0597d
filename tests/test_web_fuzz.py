"""A bounded fuzz run of the OpenAPI schema (schemathesis): whatever a client sends, never a 500.

Every operation in the schema gets a fixed number of generated requests (derandomized, so a failure
reproduces); the whole run takes well under a minute.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from brushwork.web.app import StudioConfig, create_app  # noqa: E402

EXAMPLES = 12


def test_no_server_errors(tmp_path):
    app = create_app(StudioConfig(data_dir=tmp_path / "studio", gallery=str(tmp_path / "gallery.db"), max_waiting=2))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            nonlocal calls
            calls += 1
            response = case.call()
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}")

        check()
    app.state.queue.shutdown()
    assert calls >= 100, calls  # every operation was exercised
    assert not failures, "\n".join(failures[:10])
