"""Reading the environment: each helper names the variable in the error a bad value gets."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from exc
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from exc


RATE_PERIODS = ("second", "minute", "hour", "day")


def env_rate(name: str, default: str) -> str:
    """A rate limit in DRF's form, "100/minute": a count, then second, minute, hour or day."""
    value = os.environ.get(name, "") or default
    count, _, period = value.strip().partition("/")
    if not count.isdigit() or int(count) < 1 or period not in RATE_PERIODS:
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate like 100/minute (per {', '.join(RATE_PERIODS)})")
    return value.strip()


def env_seconds_by_name(name: str, defaults: dict[str, int], *, allowed: set[str] | None = None) -> dict[str, int]:
    """`defaults` with the "name=seconds,name=seconds" pairs of the variable on top."""
    result = dict(defaults)
    for part in env_list(name, ""):
        key, _, seconds = (item.strip() for item in part.partition("="))
        if (allowed is not None and key not in allowed) or not key or not seconds.isdigit() or int(seconds) < 1:
            names = f" with a name of {', '.join(sorted(allowed))}" if allowed is not None else ""
            raise ImproperlyConfigured(f"{name}: {part!r} is not name=seconds (seconds >= 1){names}")
        result[key] = int(seconds)
    return result
