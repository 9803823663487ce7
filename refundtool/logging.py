"""Log filters: customer e-mail addresses and phone numbers never reach a log line in clear."""

from __future__ import annotations

import logging
import re

EMAIL_RE = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# International or national numbers of 10+ digits, with the usual separators.
PHONE_RE = re.compile(r"(?<![\w.])\+?\d(?:[\s()-]*\d){9,14}(?![\w.])")


def mask_personal_data(text: str) -> str:
    text = EMAIL_RE.sub(r"\1***@\2", text)
    return PHONE_RE.sub(lambda m: "***" + re.sub(r"\D", "", m.group(0))[-2:], text)


class MaskPersonalDataFilter(logging.Filter):
    """Renders the record's message once, masks it, and drops the args so nothing unmasked is left."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = mask_personal_data(message)
        record.args = None
        return True
