"""What the gateway raises; each message is something a person can act on.

`SignInRequired` stands apart from the `GatewayError` family on purpose: a refusal or an outage can
degrade one part of a page, but an expired sign-in must always end in a trip to sign in.
"""

from __future__ import annotations


class SignInRequired(Exception):
    """No token can be had silently; the person must sign in again."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InteractionRequired(SignInRequired):
    """The authority wants the person to sign in interactively (no consent, Conditional Access, an expired
    token); `claims` is its claims challenge, to hand to the person's client, or ""."""

    def __init__(self, message: str, *, claims: str = "") -> None:
        super().__init__(message)
        self.claims = claims


class GatewayError(Exception):
    """Azure (or the authority) said no, or could not be reached."""

    def __init__(self, message: str, *, correlation_id: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.correlation_id = correlation_id


class AccessDenied(GatewayError):
    def __init__(self, message: str, *, action: str = "", scope: str = "", correlation_id: str = "") -> None:
        super().__init__(message, correlation_id=correlation_id)
        self.action = action
        self.scope = scope


class NotFound(GatewayError):
    pass


class Conflict(GatewayError):
    pass


class InvalidRequest(GatewayError):
    """Azure refused the content of a request (HTTP 400)."""


class Throttled(GatewayError):
    pass


class Unavailable(GatewayError):
    """Azure could not be reached or failed before acting: nothing was changed, trying again may work."""


class OutcomeUnknown(GatewayError):
    """A change was sent but no answer came (timeout, dropped connection, 5xx): Azure may have applied it.
    The caller reads Azure back to learn what happened."""


class SignInFailed(GatewayError):
    """The authority refused or failed a sign-in (denied consent, bad state, unreachable)."""
