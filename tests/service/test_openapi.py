"""The served OpenAPI document, and schemathesis requests generated from it against the
app: none is answered 5xx, with no token, the operator's or a party's; every error is
one line of JSON; every answer matches the documented status codes and shapes."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from service.helpers import auth, job_rows, operator_token, run, setup_campaign

EXAMPLES = 10  # per operation and generation mode: ~800 requests in all
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def test_openapi_document_is_served_and_complete(api):
    r = api.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["components"]["schemas"]["Error"]["required"] == ["error"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            assert "422" not in codes or path == "/api/v1/upload", (method, path)
            assert "503" in codes, (method, path)
            errors = [c for c in codes if c >= "400"]
            for code in errors:
                schema = op["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)
            if path != "/api/v1/health":
                assert {"400", "401", "403"} <= codes and op["security"], (method, path)
    upload = spec["paths"]["/api/v1/upload"]["put"]
    assert "application/octet-stream" in upload["requestBody"]["content"]


@pytest.fixture()
def done_campaign(api, service, tmp_path):
    """Campaign c1: every party has uploaded and its job is done, so that status and
    result routes have something to answer with. Its party tokens."""
    tokens, _ = setup_campaign(api, service, tmp_path)
    assert run(api, service).status_code == 202
    assert api.app.state.runner.wait_idle(60)
    assert job_rows(service)[0]["state"] == "done"
    return tokens


@pytest.mark.timeout(120)
def test_no_generated_request_gets_a_server_error(api, service, done_campaign):
    """Each operation, with valid (positive) and invalid (negative) generated requests,
    each sent with no token, the operator's, a claims party's and the reference's."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    tokens = {
        "none": None,
        "operator": operator_token(service),
        "claims": done_campaign["ins1"],
        "reference": done_campaign["city"],
    }
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        negatable = any(True for _ in operation.iter_parameters()) or bool(
            operation.get_request_payload_content_types()
        )
        for mode in GenerationMode if negatable else [GenerationMode.POSITIVE]:
            _fuzz(operation, mode, tokens)


def _fuzz(operation, mode, tokens):
    checks = CHECKS if mode is GenerationMode.POSITIVE else CHECKS[:1]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        for who, token in tokens.items():
            headers = {**(case.headers or {}), **(auth(token) if token else {})}
            response = case.call_and_validate(headers=headers, checks=checks)
            if response.status_code >= 400:
                message = response.json()["error"]
                assert message and "\n" not in message, (who, message)

    check()


def test_nul_in_a_name_is_a_one_line_4xx_not_a_server_error(api, service, done_campaign):
    """Found by the fuzzing above: PostgreSQL refuses text holding NUL, so a NUL in a
    campaign name or party label used to reach the database and answer 500. No
    campaign has such a name (404); a party label with one is malformed (400)."""
    op = auth(operator_token(service))
    for method, url, kwargs, status in [
        ("GET", "/api/v1/status?campaign=%00", {"headers": op}, 404),
        ("GET", "/api/v1/results?campaign=c%001", {"headers": op}, 404),
        ("POST", "/api/v1/campaigns/c%001/run", {"headers": op}, 404),
        ("DELETE", "/api/v1/campaigns/%00", {"headers": op}, 404),
        ("POST", "/api/v1/campaigns/%00/revoke", {"headers": op, "json": {"party": "a"}}, 404),
        ("POST", "/api/v1/campaigns/c1/revoke", {"headers": op, "json": {"party": "\x00"}}, 400),
        ("GET", "/api/v1/status?campaign=c%001", {"headers": auth(done_campaign["ins1"])}, 403),
    ]:
        r = api.request(method, url, **kwargs)
        assert r.status_code == status, (url, r.text)
        message = r.json()["error"]
        assert message and "\n" not in message and "\x00" not in message
    r = api.get("/api/v1/status?campaign=c1", headers=op)  # an ordinary name still works
    assert r.status_code == 200 and r.json()["campaign"] == "c1"
