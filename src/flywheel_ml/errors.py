"""One exception tree for every user-facing failure.

Every error a user can cause is a :class:`FlywheelError`. Its message says what was wrong and its
``hint`` says how to fix it. The CLI prints ``error: <message> — <hint>`` and exits with
``exit_code``; the server answers ``http_status`` with a JSON body. Anything that is not a
``FlywheelError`` is a bug and is shown with its traceback.
"""

from __future__ import annotations


class FlywheelError(Exception):
    """Base of every error a user can cause and fix.

    Args:
        message: what was wrong, in one sentence without a trailing period.
        hint: how to fix it, in one sentence; may be empty.
    """

    exit_code: int = 2
    http_status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and hint joined on one line, as the CLI prints it."""
        text = self.message.replace("\n", " ")
        return f"{text} — {self.hint}" if self.hint else text

    def to_dict(self) -> dict[str, str]:
        """The JSON body the server answers with."""
        return {"error": self.code, "message": self.message, "hint": self.hint}


class InvalidInputError(FlywheelError):
    """An argument, file or value given by the user is malformed."""

    code = "invalid_input"
    http_status = 422


class NotFoundError(FlywheelError):
    """A named thing (dataset, run, model, workspace) does not exist."""

    code = "not_found"
    http_status = 404


class ConflictError(FlywheelError):
    """The request contradicts the current state (already exists, wrong status)."""

    code = "conflict"
    http_status = 409


class WorkspaceNotFoundError(NotFoundError):
    """No ``flywheel.toml`` was found from the current folder upwards."""

    code = "workspace_not_found"


class StoreUnavailableError(FlywheelError):
    """The database or object store cannot be reached."""

    code = "store_unavailable"
    http_status = 503


class SchemaTooNewError(FlywheelError):
    """The database was migrated by a newer Flywheel than this one."""

    code = "schema_too_new"
    http_status = 500


class IntegrityError(FlywheelError):
    """Stored bytes do not match their recorded digest."""

    code = "integrity"
    http_status = 500


class StorageFullError(FlywheelError):
    """The disk or object store ran out of space; nothing was recorded."""

    code = "storage_full"
    http_status = 507


class SealedTestError(FlywheelError):
    """A read of sealed test labels was attempted without a stated purpose."""

    code = "sealed_test"
    http_status = 403


class PermissionDeniedError(FlywheelError):
    """The caller's role does not allow this action."""

    code = "permission_denied"
    http_status = 403


class ConstraintViolationError(FlywheelError):
    """A gate refused the action because a project constraint is not met."""

    code = "constraint_violation"
    http_status = 409


class UnsafeModelError(FlywheelError):
    """Model bytes are not in a safe format, or hold types the caller did not trust."""

    code = "unsafe_model"
    http_status = 422


__all__ = [
    "ConflictError",
    "ConstraintViolationError",
    "FlywheelError",
    "IntegrityError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "SchemaTooNewError",
    "SealedTestError",
    "StorageFullError",
    "StoreUnavailableError",
    "UnsafeModelError",
    "WorkspaceNotFoundError",
]
