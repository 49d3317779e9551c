"""One redaction step for every log record in the process, whichever logger made it.

Why here and not a filter per logger: with `-vv` urllib3 logs each request line (a SAS `sig=` included),
azure-core, azure-identity, azure-ai-ml and msal log at DEBUG, and the record reaches every handler
(stderr, a UI log, pytest's capture). A logging.Filter only runs for the logger or handler it is attached
to, so one per deployer misses the next library. Wrapping the record factory scrubs each record once, at
creation, with azure_common.scrub (registered secrets plus key/token/SAS shapes), before any handler sees it.
"""
from __future__ import annotations

import logging
import threading

_lock = threading.Lock()


def _scrubbed(factory):
    def make_record(*args, **kwargs) -> logging.LogRecord:
        from .azure_common import scrub

        record = factory(*args, **kwargs)
        try:
            text = record.getMessage()
        except Exception:  # a bad format string: logging reports it itself later; keep the record as made
            return record
        clean = scrub(text)
        if clean != text:  # only then: formatters that read record.args (uvicorn's access log) keep working
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:  # tracebacks quote URLs and headers too
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return record

    make_record.deploy_advisor_redaction = True
    return make_record


def install() -> None:
    """Scrub every log record from now on (idempotent; safe to call from any entry point)."""
    with _lock:
        current = logging.getLogRecordFactory()
        if not getattr(current, "deploy_advisor_redaction", False):
            logging.setLogRecordFactory(_scrubbed(current))
