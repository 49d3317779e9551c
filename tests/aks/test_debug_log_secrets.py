"""With every logger at DEBUG (what `-vv` plus a root handler shows: the kubernetes client logs whole
response bodies there), neither the scoring key nor its base64 form in the Secret reaches a log line."""
from __future__ import annotations

import base64

from deployers import api
from tests.fakes.azure import FAKE_TOKEN


def test_apply_at_debug_logs_no_key_in_any_form(azure, ctx, make_spec, k8s, debug_log):
    result = api.apply(api.plan(make_spec(), ctx), ctx)
    assert result.status == "succeeded", result.message
    key = k8s._scoring_key()
    assert key
    text = debug_log.read_text(errors="replace")
    assert "/secrets/" in text  # the DEBUG logging did run: urllib3 logged the Secret requests
    secrets = [FAKE_TOKEN, key, base64.b64encode(key.encode()).decode()]
    assert [s[:8] for s in secrets if s in text] == []
