"""Logs never carry personal data, whatever emits them."""

import json
import logging

from bot import logs
from storage.crypto import FieldCipher, generate_key


def test_redact_removes_phones_ids_chat_ids_and_tokens():
    line = ("user 987654321 in -1001234567890 phone +84912345678 / 0912 345 678 / "
            "+84 91 234 5678 id 001203012345 token 123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ12")
    out = logs.redact(line)
    for secret in ("987654321", "1001234567890", "912345678", "0912 345 678", "234 5678",
                   "001203012345", "ABCDEFGHIJKLMNOP"):
        assert secret not in out
    assert out.count("[redacted]") == 7


def test_redact_keeps_references_dates_and_ports():
    line = "case BY-26-000123 at 2026-11-23 10:00:01 on port 8080"
    assert logs.redact(line) == line


def test_filter_redacts_arguments_and_adds_context(caplog):
    handler = logging.Handler()
    records: list[logging.LogRecord] = []
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(logs.RedactingFilter())
    log = logging.getLogger("test.redact")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    tag = logs.conversation_tag("telegram", "42424242", "42424242",
                                keyed=FieldCipher(generate_key()).keyed_hash)
    token = logs.conversation.set(tag)
    try:
        log.info("sent to %s", 42424242)
    finally:
        logs.conversation.reset(token)
        log.removeHandler(handler)
    assert records and "42424242" not in records[0].getMessage()
    assert records[0].conversation and "42424242" not in records[0].conversation
    formatted = json.loads(logs.JsonFormatter().format(records[0]))
    assert formatted["conversation"] == records[0].conversation
    assert "42424242" not in json.dumps(formatted)
