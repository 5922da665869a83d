"""Domain errors raised by services; the API and the browser turn them into clear messages."""

from __future__ import annotations


class DomainError(Exception):
    """A request that is understood but cannot be carried out in the current state."""

    code = "conflict"
    status = 409

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidTransition(DomainError):
    code = "invalid_transition"


class InvalidInput(DomainError):
    code = "validation_error"
    status = 400


class Unprocessable(InvalidInput):
    """Well-formed by the API's schema, refused by a rule of the domain the schema cannot state (a time in the
    future, an id of no active person, an amount above the decider's limit): 422 in the API."""

    status = 422
