"""Business rules beyond the JSON Schema, registered by the apps that own them (AppConfig.ready).

events/ imports no app, so a rule like "the currency fits the country" is written where the
country table lives and registered here; every validation path (gateway, consumers, outbox) runs it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from events.contracts.errors import FieldError

BusinessRule = Callable[[Mapping[str, Any]], list[FieldError]]
"""Takes the message's `data`; returns errors whose paths point into the whole message (/data/...)."""

_rules: dict[str, list[BusinessRule]] = defaultdict(list)


def register_business_rule(event_type: str, rule: BusinessRule) -> None:
    if rule not in _rules[event_type]:
        _rules[event_type].append(rule)


def business_rule_errors(event_type: str, data: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    for rule in _rules.get(event_type, ()):
        errors.extend(rule(data))
    return errors


def registered_business_rules() -> dict[str, list[BusinessRule]]:
    return {event_type: list(rules) for event_type, rules in _rules.items() if rules}
