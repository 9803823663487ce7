"""Domain errors of the refund services. Each one means: nothing was written."""

from __future__ import annotations

from uuid import UUID

from events.contracts.errors import FieldError


class RefundError(Exception):
    """Base of every refund domain error."""


class ValidationError(RefundError):
    """The input breaks a rule; `errors` point into the whole message ("/data/amount")."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{error.path}: {error.message}" for error in errors))


class RefundNotFoundError(RefundError):
    pass


class RequestConflictError(RefundError):
    """A refund_request_id that is already used, by a request with different content."""

    def __init__(self, *, refund_request_id: UUID, refund_id: UUID) -> None:
        self.refund_request_id = refund_request_id
        self.refund_id = refund_id
        super().__init__(
            f"refund_request_id {refund_request_id} is already used by refund {refund_id} with different content"
        )


class IllegalTransitionError(RefundError):
    """The refund's current state does not allow the change, or its conditions are not met.

    `refund_id` and `status` are None when the refused change is the creation of a refund.
    """

    def __init__(self, message: str, *, refund_id: UUID | None, status: str | None, transition: str) -> None:
        self.refund_id = refund_id
        self.status = status
        self.transition = transition
        super().__init__(message)


class ActorNotAllowedError(IllegalTransitionError):
    """The transition exists from this state, but this kind of actor may not trigger it."""
