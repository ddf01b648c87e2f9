"""What can go wrong, in the person's words, each with the exit code scripts rely on."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """The documented exit codes (README: From the terminal). 2 is click's own, for wrong usage."""

    OK = 0  # done: the access is open, the command did what it was asked
    OTHER = 1
    USAGE = 2
    DENIED = 3
    EXPIRED = 4  # expired, ended, or we stopped waiting (timed out)
    AZURE_REFUSED = 5
    SIGN_IN = 6  # not signed in, the sign-in expired, or no portal role for this
    WAITING = 7  # a request waits for approval and --wait was not given


class JitError(Exception):
    """A failure the command explains and exits on."""

    def __init__(self, message: str, code: Exit = Exit.OTHER, kind: str = "error", details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.kind = kind
        self.details = details or {}


def not_signed_in(portal: str) -> JitError:
    return JitError(
        f"You are not signed in to {portal}: run `jit login` (or `jit login --device-code` over SSH).",
        Exit.SIGN_IN,
        "not-signed-in",
    )
