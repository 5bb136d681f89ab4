"""The one error hierarchy of rcmflow.

Every error carries a stable ``code`` (for programs, logs and the API) and an ``http_status``
(for the one API handler that renders them). Messages for business rules live in ``MESSAGES``.

    RcmflowError
    ├── ConfigurationError        settings or environment are invalid
    ├── StorageError              the database refused or is unreachable
    │   └── MigrationError        schema migrations failed or are missing
    ├── InputError                a user or partner sent something we cannot accept
    │   └── X12Error              located X12 problems (see rcmflow.formats.x12.issues)
    ├── NotFoundError             an object that was asked for does not exist
    ├── UnauthenticatedError      no acceptable credentials (API 401)
    ├── ForbiddenError            the principal may not do this; carries a reason code (API 403)
    └── DomainRuleError           a business rule refused an operation
        └── UnbalancedError       money that must balance does not
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "configuration": "The configuration is invalid: {detail}",
    "storage": "The database refused the operation: {detail}",
    "migration": "Database migrations failed: {detail}",
    "input": "The input cannot be accepted: {detail}",
    "not_found": "{kind} {key} does not exist",
    "domain_rule": "{detail}",
    "unbalanced": "{what} does not balance: expected {expected}, got {actual}",
}


class RcmflowError(Exception):
    """Base of every error rcmflow raises on purpose."""

    code = "rcmflow_error"
    http_status = 500

    def __init__(self, message: str | None = None, **params: object) -> None:
        self.params = params
        if message is None:
            template = MESSAGES.get(self.code, self.code)
            try:
                message = template.format(**params)
            except KeyError:
                message = template
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self)


class ConfigurationError(RcmflowError):
    code = "configuration"
    http_status = 500


class StorageError(RcmflowError):
    code = "storage"
    http_status = 503


class MigrationError(StorageError):
    code = "migration"


class InputError(RcmflowError):
    code = "input"
    http_status = 422


class NotFoundError(RcmflowError):
    code = "not_found"
    http_status = 404


class DomainRuleError(RcmflowError):
    code = "domain_rule"
    http_status = 409


class UnbalancedError(DomainRuleError):
    code = "unbalanced"


class UnauthenticatedError(RcmflowError):
    """No credentials, or credentials that cannot be accepted (expired, revoked, malformed)."""

    code = "unauthenticated"
    http_status = 401


class ForbiddenError(RcmflowError):
    """An authenticated principal may not do this; ``reason`` is a stable code saying why."""

    code = "forbidden"
    http_status = 403

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
