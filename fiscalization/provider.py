"""The client of the ATOL Online v5-style fiscal provider.

What each answer means to the caller:

- code 33 on sell_refund or sell_refund_correction (the external_id is already registered) is
  success: the answer carries the uuid of the first registration;
- code 34 on report (no state yet) and status ``wait`` mean: ask again later; a report that says
  code 34 is ``unknown``, and one that stays so for FISCAL_REPORT_UNKNOWN_SECONDS means the provider
  lost the document (the caller registers it again under the same external_id);
- code 11 (token expired or unknown): the cached token is dropped, a new one fetched and the request
  sent once more;
- HTTP 5xx, 429, timeouts, connection errors, unreadable answers and refused credentials raise
  ``ProviderUnavailable``: retry later with backoff (wrong credentials are our configuration, not the
  receipt's fault, so they must not fail receipts for good);
- any other 4xx (a body the provider refuses) raises ``ProviderRejected`` with the provider's reason:
  sending the same body again cannot succeed;
- an answer that breaks the provider's own format (a uuid that is no identifier, a done report whose
  fiscal attributes are not the digits 54-FZ defines or whose link is not https) raises
  ``ProviderAnswerInvalid``: asking again gets the same answer, and nothing of it may be stored or
  shown (a ``javascript:`` link in admin, an overlong value the database refuses on every poll).

Money goes on the wire as JSON numbers, as the provider requires. Amounts are Decimals with at most
15 significant digits, which a binary float and its shortest repr carry exactly, so the conversion at
this boundary loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache

from fiscalization.builder import MOSCOW, TIMESTAMP_FORMAT

CODE_TOKEN_EXPIRED = 11
CODE_DUPLICATE = 33
CODE_STATE_NOT_FOUND = 34
TOKEN_CACHE_MARGIN_SECONDS = 60
FINAL_STATUSES = {"done", "fail"}
# 54-FZ: the fiscal drive's number is 16 digits; the document number and its fiscal sign are 32-bit
# unsigned integers (at most 10 digits).
FISCAL_DIGITS = {"fn_number": (16, 16), "fiscal_document_number": (1, 10), "fiscal_document_attribute": (1, 10)}
OFD_URL_MAX_LENGTH = 500  # the column's length (Receipt and Refund)
ERROR_TEXT_MAX_LENGTH = 300  # the provider's reason, kept within the refund's reason (500)
PROVIDER_UUID = re.compile(r"[0-9A-Za-z-]{1,64}")  # it goes into the report URL's path


class ProviderError(Exception):
    """The provider did not do what was asked."""


class ProviderUnavailable(ProviderError):  # noqa: N818 - reads as a condition, like TimeoutError's siblings
    """Transient: the provider or the way to it is down, slow or refusing our credentials. Retry later."""


class ProviderAnswerInvalid(ProviderError):  # noqa: N818 - reads as a condition
    """Final: the provider's answer breaks its format. The message names the field, never its value."""


class ProviderRejected(ProviderError):  # noqa: N818 - reads as a condition
    """Final: the provider refused the request itself (e.g. validation). Resending it cannot help."""

    def __init__(self, *, status: int, code: int | None, text: str) -> None:
        super().__init__(f"HTTP {status}, code {code}: {text}")
        self.status = status
        self.code = code
        self.text = text


@dataclass(frozen=True)
class Registration:
    uuid: str
    duplicate: bool  # True when the provider already had this external_id (code 33)


@dataclass(frozen=True)
class FiscalAttributes:
    """What a done report says of the document, checked against 54-FZ's formats."""

    fn_number: str
    fiscal_document_number: str
    fiscal_document_attribute: str
    receipt_datetime: datetime
    ofd_receipt_url: str  # https, or empty when the provider gives no link


@dataclass(frozen=True)
class Report:
    status: str  # "wait", "done" or "fail"
    fiscal: FiscalAttributes | None = None  # on done
    error_code: int | None = None
    error_type: str = ""
    error_text: str = ""
    unknown: bool = False  # code 34: the provider has no state for the uuid (yet)

    @property
    def is_timeout(self) -> bool:
        """A fail of type timeout: by the provider's rule, register the receipt again under a new external_id."""
        return self.status == "fail" and self.error_type == "timeout"


def money_as_json_number(value: object) -> float:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_body(body: dict[str, Any]) -> bytes:
    return json.dumps(body, default=money_as_json_number, ensure_ascii=False).encode()


class AtolClient:
    def __init__(
        self,
        *,
        base_url: str,
        login: str,
        password: str,
        group_code: str,
        timeout: float,
        token_ttl: float,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.login = login
        self.password = password
        self.group_code = group_code
        self.timeout = timeout
        self.token_ttl = token_ttl
        self.token_cache_key = "fiscal:token:" + hashlib.sha256(f"{self.base_url}|{login}".encode()).hexdigest()[:32]

    @classmethod
    def from_settings(cls) -> AtolClient:
        return cls(
            base_url=settings.FISCAL_PROVIDER_URL,
            login=settings.FISCAL_LOGIN,
            password=settings.FISCAL_PASSWORD,
            group_code=settings.FISCAL_GROUP_CODE,
            timeout=settings.FISCAL_HTTP_TIMEOUT_SECONDS,
            token_ttl=settings.FISCAL_TOKEN_TTL_SECONDS,
        )

    def sell_refund(self, body: dict[str, Any]) -> Registration:
        return self._register("sell_refund", body)

    def sell_refund_correction(self, body: dict[str, Any]) -> Registration:
        """A correction receipt of a refund; the same answers, idempotency (code 33) and failures as sell_refund."""
        return self._register("sell_refund_correction", body)

    def _register(self, operation: str, body: dict[str, Any]) -> Registration:
        status, answer = self._authorised("POST", f"/{self.group_code}/{operation}", encode_body(body))
        code = _error_code(answer)
        if status == HTTPStatus.OK and code is None and answer.get("uuid"):
            return Registration(uuid=_provider_uuid(answer["uuid"]), duplicate=False)
        if code == CODE_DUPLICATE and answer.get("uuid"):
            return Registration(uuid=_provider_uuid(answer["uuid"]), duplicate=True)
        raise self._failure(status, answer)

    def report(self, uuid: str) -> Report:
        status, answer = self._authorised("GET", f"/{self.group_code}/report/{uuid}", None)
        code = _error_code(answer)
        if code == CODE_STATE_NOT_FOUND:
            return Report(status="wait", unknown=True)
        if status != HTTPStatus.OK:
            raise self._failure(status, answer)
        provider_status = answer.get("status")
        if provider_status == "done":
            return Report(status="done", fiscal=fiscal_attributes(answer.get("payload")))
        if provider_status == "fail":
            error = answer.get("error") or {}
            text = str(error.get("text") or "the provider reported fail without a reason")
            return Report(
                status="fail",
                error_code=error.get("code"),
                error_type=str(error.get("type") or "")[:32],
                error_text=text if len(text) <= ERROR_TEXT_MAX_LENGTH else text[: ERROR_TEXT_MAX_LENGTH - 1] + "…",
            )
        if provider_status == "wait":
            return Report(status="wait")
        raise ProviderUnavailable(f"report answered an unknown status {provider_status!r}")

    # --- transport ------------------------------------------------------------------------------

    def _authorised(self, method: str, path: str, data: bytes | None) -> tuple[int, dict[str, Any]]:
        token = self._token()
        status, answer = self._request(method, path, data, token)
        if _error_code(answer) == CODE_TOKEN_EXPIRED:
            self._forget_token(token)
            status, answer = self._request(method, path, data, self._token())
            if _error_code(answer) == CODE_TOKEN_EXPIRED:
                raise ProviderUnavailable("the provider refused a freshly issued token")
        return status, answer

    def _token(self) -> str:
        token = cache.get(self.token_cache_key)
        if token:
            return str(token)
        credentials = json.dumps({"login": self.login, "pass": self.password}).encode()
        status, answer = self._request("POST", "/getToken", credentials, None)
        if status == HTTPStatus.OK and answer.get("token"):
            token = str(answer["token"])
            cache.set(self.token_cache_key, token, timeout=max(1, self.token_ttl - TOKEN_CACHE_MARGIN_SECONDS))
            return token
        if status >= 500 or status in {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.TOO_MANY_REQUESTS}:
            raise ProviderUnavailable(f"getToken failed: HTTP {status}, {_error_text(answer)}")
        raise self._failure(status, answer)

    def _forget_token(self, token: str) -> None:
        # Another worker may already have put a fresh token there; drop only the one that was refused.
        if cache.get(self.token_cache_key) == token:
            cache.delete(self.token_cache_key)

    def _request(self, method: str, path: str, data: bytes | None, token: str | None) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        if token:
            headers["Token"] = token
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)  # noqa: S310 - the configured provider URL
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except OSError as exc:  # URLError, timeouts and refused connections are all OSErrors
            raise ProviderUnavailable(f"{method} {path}: {exc}") from exc
        if status >= 500 or status == HTTPStatus.TOO_MANY_REQUESTS:
            raise ProviderUnavailable(f"{method} {path}: HTTP {status}, {_error_text(_parse(raw))}")
        answer = _parse(raw)
        if answer is None:
            raise ProviderUnavailable(f"{method} {path}: HTTP {status} with an unreadable body")
        return status, answer

    @staticmethod
    def _failure(status: int, answer: dict[str, Any]) -> ProviderError:
        if status < 400:
            return ProviderUnavailable(f"unexpected answer, HTTP {status}: {answer}")
        return ProviderRejected(status=status, code=_error_code(answer), text=_error_text(answer))


def fiscal_attributes(payload: object) -> FiscalAttributes:
    """The done report's payload, checked; ProviderAnswerInvalid names every field that breaks its format."""
    if not isinstance(payload, dict):
        raise ProviderAnswerInvalid("the done report has no payload object")
    problems = []
    digits = {}
    for name, (shortest, longest) in FISCAL_DIGITS.items():
        value = payload.get(name)
        # ATOL sends the numbers as JSON integers and the drive's number as a string: both are fine.
        text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
        if not (text.isascii() and text.isdigit() and shortest <= len(text) <= longest):
            width = f"{shortest}" if shortest == longest else f"{shortest} to {longest}"
            problems.append(f"{name} is not {width} digits")
        digits[name] = text
    try:
        at = datetime.strptime(str(payload.get("receipt_datetime")), TIMESTAMP_FORMAT).replace(tzinfo=MOSCOW)
    except ValueError:
        problems.append("receipt_datetime is not dd.mm.yyyy HH:MM:SS")
    url = payload.get("ofd_receipt_url") or ""
    if not _is_https_url(url):
        problems.append(f"ofd_receipt_url is not an https URL of at most {OFD_URL_MAX_LENGTH} characters")
    if problems:
        raise ProviderAnswerInvalid("; ".join(problems))
    return FiscalAttributes(**digits, receipt_datetime=at, ofd_receipt_url=url)


def _is_https_url(url: object) -> bool:
    if url == "":
        return True
    if not isinstance(url, str) or len(url) > OFD_URL_MAX_LENGTH or not url.isprintable() or " " in url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a malformed IPv6 host
        return False
    return parts.scheme == "https" and bool(parts.hostname)


def _provider_uuid(value: object) -> str:
    if not isinstance(value, str) or not PROVIDER_UUID.fullmatch(value):
        raise ProviderAnswerInvalid("the registration's uuid is not 1 to 64 letters, digits and dashes")
    return value


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        answer = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return answer if isinstance(answer, dict) else None


def _error_code(answer: dict[str, Any]) -> int | None:
    error = answer.get("error")
    return error.get("code") if isinstance(error, dict) else None


def _error_text(answer: dict[str, Any] | None) -> str:
    error = (answer or {}).get("error")
    if isinstance(error, dict):
        return str(error.get("text") or error)
    return str(error or "no error text")
