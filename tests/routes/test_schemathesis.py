"""The JSON API against its own OpenAPI schema (schemathesis): generated requests, a bounded
number per operation, as a cooperative user with a token. No server error, ever; every answer
the schema documents has the documented shape.

Driven from Hypothesis directly: schemathesis' pytest plugin does not run on this pytest.
"""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from sqlmodel import Session

from app.services.auth import create_token
from tests.factories import World

EXAMPLES = 10  # per operation: bounded, so `make test` stays quick


def test_the_api_against_its_schema(app: FastAPI, db: Session, tracked: World) -> None:
    token = create_token(session=db, user=tracked.users["coop_a"]).token
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures: dict[str, str] = {}
    calls: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            nested = db.begin_nested()  # each example starts from the same data
            try:
                calls.append(
                    case.call_and_validate(
                        headers={"Authorization": f"Bearer {token}"},
                        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
                    ).status_code
                )
            finally:
                nested.rollback()

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report
            failures[f"{operation.method.upper()} {operation.path}"] = str(exc)[:800]
    assert failures == {}
    assert len(calls) >= 3 * len(operations)  # really sent requests, and some succeeded
    assert any(code < 300 for code in calls) and any(code == 422 for code in calls)
