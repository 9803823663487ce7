"""Log filters: customer e-mail addresses and phone numbers never reach a log line in clear.

The patterns cover what the refund-request validator accepts (refundtool.validation): e-mail
addresses in any script (internationalised local parts and domains, quoted local parts, address
literals), and phone numbers of 7 to 15 digits with any separators (spaces, dashes, dots,
parentheses, a leading +). A number that merely looks like a phone is masked too: a log line may
lose a figure, never a customer's number. Numbers glued to a word, a dash or a dot (order numbers,
UUIDs, dotted versions) and times (a colon follows) are left alone.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]"  # \w: letters and digits of any script, as in IDN addresses
EMAIL_RE = re.compile(
    rf"""(?:"[^"\r\n]*"|{_ATOM}(?:{_ATOM}|\.)*)@((?:[\w-]+\.)+[\w-]{{2,}}|\[[0-9A-Fa-f:.]+\])""",
)
# Neither an ISO date (2026-03-02), nor a dotted one (02.03.2026: the fiscal provider's timestamps),
# nor what follows a time's colon (00:16:41.123418) is a phone: log lines print datetimes. Nor the
# leading groups of a UUID or an id made of one (02537260-6256-45b7-..., <uuid>-c1): digits followed
# by a dash and a letter or digit run on into a longer token.
_NOT_A_DATE = r"(?!\d{4}-\d\d-\d\d(?!\d)|\d\d\.\d\d\.\d{4}(?!\d))"
PHONE_RE = re.compile(rf"(?<![\w.-])(?<!\d:){_NOT_A_DATE}(?:\+|\()?\d(?:[\s().-]*\d){{6,14}}(?![\w:]|-\w)")
_NOT_DIGIT = re.compile(r"\D")

# What every LogRecord has; anything else on a record came from `extra`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def mask_personal_data(text: str) -> str:
    text = EMAIL_RE.sub(lambda m: m.group(0)[0] + "***@" + m.group(1), text)
    return PHONE_RE.sub(lambda m: "***" + _NOT_DIGIT.sub("", m.group(0))[-2:], text)


def _masked(value: Any) -> Any:
    """`value` with every text in it masked; a number or object whose text reads as personal data
    becomes its masked text (a formatter would print that text)."""
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, dict):
        return {_masked(key): _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(item) for item in value]
    if value is None or isinstance(value, bool | float):
        return value
    text = str(value)
    masked = mask_personal_data(text)
    return value if masked == text else masked


class MaskPersonalDataFilter(logging.Filter):
    """Masks everything of a record that a formatter writes: the message with its arguments, the
    traceback, the stack and every `extra` field.

    The message is rendered once and the arguments dropped, so nothing unmasked is left; the traceback
    is rendered to text (exc_text, which text and JSON formatters both print) and exc_info dropped, as
    its exception's message may carry the values.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = mask_personal_data(message)
        record.args = None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = mask_personal_data(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_personal_data(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRIBUTES:
                setattr(record, name, _masked(value))
        return True
