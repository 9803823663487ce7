"""The one shape of a validation error, shared by the gateway, consumers, the outbox and the domain."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str  # a JSON pointer into the whole message, e.g. "/data/items/0/quantity"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}
