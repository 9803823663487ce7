import logging
import os
import re
import subprocess
import sys

import pytest
from pythonjsonlogger.json import JsonFormatter

from refundtool.logging import MaskPersonalDataFilter, mask_personal_data


def test_email_and_phone_are_masked():
    text = mask_personal_data("refund for ivan.petrov@example.ru, phone +7 (912) 345-67-89, order 100500")
    assert "ivan.petrov" not in text
    assert "345-67-89" not in text
    assert "i***@example.ru" in text
    assert "***89" in text
    assert "order 100500" in text


def test_the_filter_masks_arguments_of_a_log_record():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "customer %s called from %s", ("a@b.io", "89123456789"), None
    )
    MaskPersonalDataFilter().filter(record)
    assert record.getMessage() == "customer a***@b.io called from ***89"


@pytest.mark.parametrize(
    "email",
    [
        "anna.smirnova@пример.рф",  # an internationalised domain
        "иван@почта.рф",  # and local part
        "ivan.petrov+refunds@mail.example.co.uk",
        "o'neil@example.com",
        '"john doe"@example.com',
        "root@[192.168.0.1]",
    ],
)
def test_internationalised_and_unusual_email_addresses_are_masked(email):
    masked = mask_personal_data(f"customer <{email}> asked")
    assert email not in masked
    assert email.split("@")[0].strip('"') not in masked


@pytest.mark.parametrize(
    "phone",
    [
        "+7 (912) 345-67-89",
        "8 912 345 67 89",
        "+44.20.7946.0958",
        "(495) 123.45.67",
        "123-45-67",  # 7 digits
        "+380441234567",
        "+1 (555) 010-9999 ",
        "+86 10 1234 5678 90",  # 15 digits
        "phone:+79123456789",
        "12.34.5678901",  # shaped like a dotted date, then more digits
        "06.12.2026 9123456789",  # a phone after a date
    ],
)
def test_phone_numbers_of_7_to_15_digits_with_any_separators_are_masked(phone):
    digits = re.sub(r"\D", "", phone)
    masked = re.sub(r"\D", "", mask_personal_data(f"call {phone} now"))
    assert digits[:-2] not in masked


@pytest.mark.parametrize(
    "text",
    [
        "order ORD-12345678",
        "eid 550e8400-e29b-41d4-a716-446655440000",
        "correction receipt 02537260-6256-45b7-9578-de8f46e520a4-c1 registered",
        "receipt 12345678-1234-4234-8234-123456789012-1-1 failed",
        "at 2026-03-02 10:00:00",
        "older than 2026-12-06 00:16:41.123418+00:00",
        "provider timestamp 06.12.2026 10:00:00",
        "between 01.02.2026 and 28.02.2026.",
        "lag 123456",
    ],
)
def test_order_numbers_uuids_dates_and_short_numbers_stay(text):
    assert mask_personal_data(text) == text


def _record(**kwargs):
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, kwargs.pop("msg", "failed"), None, None)
    for name, value in kwargs.items():
        setattr(record, name, value)
    return record


def test_tracebacks_stacks_and_extra_fields_are_masked_for_text_and_json():
    try:
        raise ValueError("the phone +7 912 345-67-89 of anna@example.com is wrong")
    except ValueError:
        exc_info = sys.exc_info()
    outputs = []
    for formatter in (logging.Formatter("%(message)s %(customer)s"), JsonFormatter("%(message)s")):
        record = _record(
            exc_info=exc_info,
            stack_info="File x, line 1\n  notify('+7 912 345-67-89')",
            customer={"email": "anna@example.com", "phones": ["+7 912 345-67-89", 79123456789]},
            note="anna@example.com",
        )
        MaskPersonalDataFilter().filter(record)
        outputs.append(formatter.format(record))
    for output in outputs:
        assert "ValueError" in output  # the traceback is still there, masked
        assert "anna@" not in output
        assert "345-67-89" not in output
        assert "79123456789" not in output


def test_celery_worker_and_beat_keep_the_projects_logging_and_its_mask():
    # What `celery worker` and `celery beat` do before anything else: set up logging. Without a
    # setup_logging receiver Celery replaces the root logger's handlers, and the mask with them.
    script = (
        "import logging; from refundtool.celery import app; app.log.setup_logging_subsystem(loglevel='INFO'); "
        "logging.getLogger('fiscalization').warning('receipt for anna@example.com, +7 912 345-67-89')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "refundtool.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    output = result.stdout + result.stderr
    assert "receipt for a***@example.com, ***89" in output
    assert "anna@" not in output
