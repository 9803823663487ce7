"""A producer's mistake is logged at INFO, not as one of the warnings on-call engineers watch."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from tests.events_spec.conftest import Gateway

pytestmark = pytest.mark.kafka


def _request_records(caplog, status: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request" and getattr(r, "status_code", None) == status]


def test_a_gateway_4xx_is_logged_at_info(gateway, caplog):
    caplog.set_level(logging.INFO, logger="django.request")
    assert gateway().post("refund.update", b'{"metadata": ').status_code == 400
    assert Gateway(token=None).post("refund.update", b"{}").status_code == 401

    assert [r.levelname for r in _request_records(caplog, 400)] == ["INFO"]
    assert [r.levelname for r in _request_records(caplog, 401)] == ["INFO"]


def test_a_gateway_4xx_is_not_logged_when_the_level_is_warning(gateway, caplog):
    caplog.set_level(logging.WARNING, logger="django.request")
    assert gateway().post("refund.update", b"[]").status_code == 400
    assert _request_records(caplog, 400) == []


def test_other_4xx_answers_keep_django_s_warning(db, caplog):
    caplog.set_level(logging.INFO, logger="django.request")
    assert Client().get("/api/no-such-endpoint").status_code == 404
    assert [r.levelname for r in _request_records(caplog, 404)] == ["WARNING"]
