"""schemathesis over the OpenAPI document (/api/v1/schema/, drf-spectacular): every operation, called with a few
generated requests (derandomized, so a run is repeatable) signed out and with a signed-in user's token, answers
no 5xx and never shows a traceback or a server path.

Bounded: EXAMPLES generated requests per operation (FUZZ_EXAMPLES=… for a longer hunt), each sent signed out and
signed in (about 90 s on the 2-core machine with the world built).
"""

import os

import permission_world as pw
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 8))
# Registering another agency's service makes the server fetch the URL it is given: the fuzzer's URLs point at the
# internet, which tests do not reach (tests/test_catalog_api.py covers that route with a fake service).
SKIPPED_OPERATIONS = {"layers_services_create"}
SERVER_INTERNALS = ("Traceback (most recent call last)", "site-packages/", "/work/", "File \"/")

APP = get_wsgi_application()
DOCUMENT = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(operation_id=list(SKIPPED_OPERATIONS))
TALLY = {"operations": set(), "requests": 0, "5xx": 0}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        built = pw.build(tmp_path_factory.mktemp("fuzz"))
        try:
            yield built
        finally:
            pw.tear_down()
            print(f"\nschemathesis: {len(TALLY['operations'])} operations, {TALLY['requests']} requests, "
                  f"{TALLY['5xx']} answered 5xx")


@pytest.fixture(autouse=True)
def no_worker_probe(settings):
    """/api/health would answer 503 without a Celery worker (and wait 3 s for one): eager mode needs none."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def connection_kept_open():
    """A WSGI request closes the database connection when it ends, as in production; here the test's transaction
    lives on it (Django's test client does the same)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# generated examples only: schemathesis's explicit/coverage phase would send hundreds of requests per operation
@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx(case, world, connection_kept_open):
    TALLY["operations"].add(case.operation.label)
    for token in (None, world.tokens["other"]):
        headers = {"Authorization": f"Token {token}"} if token else {}
        response = case.call(app=APP, headers=headers)
        TALLY["requests"] += 1
        text = response.content.decode("utf-8", "replace")
        if response.status_code >= 500:
            TALLY["5xx"] += 1
        who = "token" if token else "signed out"
        assert response.status_code < 500, f"{case.method} {case.formatted_path} ({who}) answered " \
                                           f"{response.status_code}: {text[:500]}\n{case.as_curl_command()}"
        leaked = [marker for marker in SERVER_INTERNALS if marker in text]
        assert not leaked, f"{case.method} {case.formatted_path}: server internals {leaked} in {text[:500]}"
