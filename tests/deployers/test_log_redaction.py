"""One redaction for every log record (deployers/log_redaction.py): whichever library logs a SAS URL, a
bearer token or a secret fetched at run time, at whatever level, no handler ever sees it."""
from __future__ import annotations

import io
import logging

import pytest

from deployers import azure_common, log_redaction

SECRET = "fetched-endpoint-key-3f9a1c"


@pytest.fixture
def root_text():
    """Everything the root logger's handlers receive at DEBUG, as text."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old)


def test_records_from_any_logger_are_scrubbed_before_any_handler(root_text):
    log_redaction.install()
    log_redaction.install()  # idempotent: one wrapper, not a chain
    assert getattr(logging.getLogRecordFactory(), "deploy_advisor_redaction", False)
    azure_common.register_secret(SECRET)
    url = "https://acct.blob.core.windows.net/c/x.csv?sv=2023-01-03&sig=AbCdEf%2B123456&se=2030"
    # urllib3.util.retry was not covered by the batch deployer's old filter on urllib3.connectionpool
    logging.getLogger("urllib3.util.retry").debug("Incremented Retry for (url='%s')", url)
    logging.getLogger("urllib3.connectionpool").debug('%s "GET %s HTTP/1.1" 200', "https://acct:443", url)
    logging.getLogger("azure.identity").info("token: Bearer eyJhbGciOiJSUzI1NiJ9.payload.signature")
    logging.getLogger("some.plugin").warning("key %s rejected", SECRET)
    try:
        raise RuntimeError(f"listKeys answered {SECRET}")
    except RuntimeError:
        logging.getLogger("deployers.x").exception("failed")
    text = root_text.getvalue()
    assert "Incremented Retry" in text and "failed" in text and "rejected" in text
    for leaked in ("AbCdEf", SECRET, "eyJhbGci"):
        assert leaked not in text
    assert "sig=***" in text



def test_a_record_without_secrets_keeps_its_args():
    """Formatters such as uvicorn's access log unpack record.args: only a record that held a secret changes."""
    log_redaction.install()
    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', ("127.0.0.1", "GET", "/", "1.1", 200),
        None)
    assert record.args == ("127.0.0.1", "GET", "/", "1.1", 200)
