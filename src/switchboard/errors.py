"""One error hierarchy: every failure a user can see has a stable code and a readable fix."""

from __future__ import annotations


class SwitchboardError(Exception):
    """Base of every error Switchboard reports to a person or a client.

    `code` is stable and machine-readable; the message says what went wrong, where, and how
    to fix it. `http_status` is what the HTTP edge answers with; the CLI exits non-zero.
    """

    code = "switchboard_error"
    http_status = 500
    # Seconds a client should wait before trying again (HTTP Retry-After), when it should.
    retry_after: int | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigurationError(SwitchboardError):
    code = "configuration_error"


class PortInUse(SwitchboardError):
    """The address the service was told to listen on is taken, or cannot be listened on."""

    code = "port_in_use"


class DatabaseUnavailable(SwitchboardError):
    """The database cannot serve now (unreachable, restarting, no connection free in time)."""

    code = "database_unavailable"
    http_status = 503
    retry_after = 5  # a restart takes seconds; a provider's retry sooner would fail again


class MigrationError(SwitchboardError):
    code = "migration_failed"


class MigrationLockTimeout(MigrationError):
    code = "migration_locked"


class DuplicateMessageIds(MigrationError):
    code = "duplicate_message_ids"


class AdoptionRefused(MigrationError):
    code = "adoption_refused"


class MigrationNotPermitted(MigrationError):
    """The connected role may not read the migration ledger, or may not migrate: the owner of
    the tables migrates (`switchboard db upgrade`), the app role only serves."""

    code = "migration_not_permitted"


class WebhookRejected(SwitchboardError):
    """A webhook delivery refused before anything was stored."""

    code = "webhook_rejected"
    http_status = 400


class InvalidSignature(WebhookRejected):
    code = "invalid_signature"
    http_status = 403


class StaleTimestamp(WebhookRejected):
    code = "stale_timestamp"
    http_status = 403


class SecretNotConfigured(WebhookRejected):
    code = "secret_not_configured"
    http_status = 503


class MalformedBody(WebhookRejected):
    code = "malformed_body"
    http_status = 400


class MissingField(WebhookRejected):
    code = "missing_field"
    http_status = 422


class UnsupportedMediaType(WebhookRejected):
    code = "unsupported_media_type"
    http_status = 415


class PayloadTooLarge(WebhookRejected):
    """A webhook's body over its limit (http_limits.BodyLimits)."""

    code = "payload_too_large"
    http_status = 413


class BodyTooLarge(SwitchboardError):
    """A request body over its route's limit (http_limits.BodyLimits): refused unread."""

    code = "body_too_large"
    http_status = 413


class MetricsNotConfigured(SwitchboardError):
    """/metrics is refused in production until SWITCHBOARD_METRICS_TOKEN is set."""

    code = "metrics_not_configured"
    http_status = 403


class MetricsTokenInvalid(SwitchboardError):
    """/metrics was asked for without the bearer token SWITCHBOARD_METRICS_TOKEN sets."""

    code = "metrics_token_invalid"
    http_status = 401


class DatabaseBehind(SwitchboardError):
    code = "database_behind"
    http_status = 503


class CaseNotFound(SwitchboardError):
    code = "case_not_found"
    http_status = 404


class IllegalCaseTransition(SwitchboardError):
    code = "illegal_case_transition"
    http_status = 409


class StaleReply(SwitchboardError):
    """Someone wrote in the conversation since the agent's view of it."""

    code = "reply_stale"
    http_status = 409


class SendRefused(SwitchboardError):
    """The customer's preferences refuse the message (the rule is named); audited."""

    code = "send_refused"
    http_status = 409


class RevealNotAllowed(SwitchboardError):
    """Revealing a customer's contact details needs a supervisor, or the right for the queue."""

    code = "reveal_not_allowed"
    http_status = 403


class CannotReply(SwitchboardError):
    """The conversation has nobody to write back to on its channel (a call, say)."""

    code = "cannot_reply"
    http_status = 409


class InvalidInput(SwitchboardError):
    code = "invalid_input"
    http_status = 422


class VerificationRequired(SwitchboardError):
    """The caller has not proved who they are well enough for this tool."""

    code = "verification_required"
    http_status = 403


class UnknownTool(SwitchboardError):
    code = "unknown_tool"
    http_status = 404


class CustomerNotRecognised(SwitchboardError):
    """No customer is linked to the calling number, so there is nobody to verify."""

    code = "customer_not_recognised"
    http_status = 403


class ProviderError(SwitchboardError):
    """A provider did not take an outbound message.

    `provider_code` is the provider's own error code where it gave one (Twilio's 21211),
    otherwise `http_<status>` or `network`; the message is the provider's own text.
    """

    code = "provider_error"
    http_status = 502

    def __init__(
        self, message: str, *, provider: str, provider_code: str, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.provider = provider
        self.provider_code = provider_code


class ProviderUnavailable(ProviderError):
    """The provider could not take the message now (5xx, 429, no answer): try again later."""

    code = "provider_unavailable"
    http_status = 503


class ProviderRejected(ProviderError):
    """The provider refused the message itself (a 4xx other than 429): trying again is futile."""

    code = "provider_rejected"


class ConversationNotFound(SwitchboardError):
    """No conversation has this id."""

    code = "conversation_not_found"
    http_status = 404


class OtpNotConfigured(SwitchboardError):
    """One-time codes cannot be sent or checked: a setting they need is not set."""

    code = "otp_not_configured"
    http_status = 503


class OtpDestinationNotLinked(SwitchboardError):
    """A code may only go to an address linked to the customer it verifies."""

    code = "otp_destination_not_linked"
    http_status = 422


class OtpRateLimited(SwitchboardError):
    """Too many codes were sent to this destination in the last hour."""

    code = "otp_rate_limited"
    http_status = 429

    def __init__(self, message: str, *, hint: str | None = None, retry_after: int = 0) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after  # seconds until another code may be sent


class OtpNotSent(SwitchboardError):
    """The code's message was refused, so no code is waiting to be checked."""

    code = "otp_not_sent"
    http_status = 422


class OtpNoLiveSession(SwitchboardError):
    """This conversation has no code waiting to be checked."""

    code = "otp_no_live_session"
    http_status = 404


class OtpExpired(SwitchboardError):
    """The code has expired; a new one must be sent."""

    code = "otp_expired"
    http_status = 410


class OtpAlreadyUsed(SwitchboardError):
    """The code was already accepted once; a code is accepted only once."""

    code = "otp_already_used"
    http_status = 409


class OtpFailed(SwitchboardError):
    """Too many wrong codes: this code is void and a new one must be sent."""

    code = "otp_failed"
    http_status = 409


class VerifyUnavailable(SwitchboardError):
    """Twilio Verify did not answer, or answered with a server error."""

    code = "verify_unavailable"
    http_status = 503


class VerifyRejected(SwitchboardError):
    """Twilio Verify refused the request (invalid number, credentials, service)."""

    code = "verify_rejected"
    http_status = 502


class AssignmentNotFound(SwitchboardError):
    code = "assignment_not_found"
    http_status = 404


class IllegalAssignmentMove(SwitchboardError):
    """A move the assignment's state machine does not allow from the state it is in."""

    code = "illegal_assignment_move"
    http_status = 409


class StaleAssignment(SwitchboardError):
    """The agent acted on a view of the assignment older than its current version."""

    code = "stale_assignment"
    http_status = 409


class AssignmentAlreadyLive(SwitchboardError):
    """The conversation already has a queued, offered, active or wrapping assignment."""

    code = "assignment_already_live"
    http_status = 409


class AgentCannotTakeWork(SwitchboardError):
    """Not available, not in the item's queue, or no room left in its channel."""

    code = "agent_cannot_take_work"
    http_status = 409


class AgentNotFound(SwitchboardError):
    code = "agent_not_found"
    http_status = 404


class AgentExists(SwitchboardError):
    code = "agent_exists"
    http_status = 409


class EnrolmentInvalid(SwitchboardError):
    """The enrolment secret is unknown, used up or expired (the same answer for each)."""

    code = "enrolment_invalid"
    http_status = 401


class EnrolmentIncomplete(SwitchboardError):
    """The agent's password is right but the TOTP their role needs was never confirmed."""

    code = "enrolment_incomplete"
    http_status = 403


class SignInFailed(SwitchboardError):
    """Wrong email, password or code: one answer, whichever it was."""

    code = "sign_in_failed"
    http_status = 401


class SignInBlocked(SwitchboardError):
    """Too many failures in a row for this account or this client: wait before trying again."""

    code = "sign_in_blocked"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class SignInBusy(SwitchboardError):
    """More passwords are being checked than the service checks at once."""

    code = "sign_in_busy"
    http_status = 503
    retry_after = 1


class NotSignedIn(SwitchboardError):
    """No session, or one that was signed out, revoked or expired."""

    code = "not_signed_in"
    http_status = 401


class CsrfFailed(SwitchboardError):
    """An unsafe request on a signed-in session without proof that our own pages sent it."""

    code = "csrf_failed"
    http_status = 403


class Forbidden(SwitchboardError):
    """Signed in, but this agent's role may not do this."""

    code = "forbidden"
    http_status = 403


class SupervisorOnly(SwitchboardError):
    """Signed in, but the queues' figures and a supervisor's moves are for supervisors and
    admins."""

    code = "supervisor_only"
    http_status = 403


class SearchRateLimited(SwitchboardError):
    """The agent searched for customers more often than the allowance lets."""

    code = "search_rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class QueueNotFound(SwitchboardError):
    """No such queue, or not one the caller supervises."""

    code = "queue_not_found"
    http_status = 404


class TooManyLiveStreams(SwitchboardError):
    """An agent asked for one more live stream than one agent may hold open at once."""

    code = "too_many_live_streams"
    http_status = 429
    retry_after = 5


class LiveStreamsBusy(SwitchboardError):
    """The process serves as many live streams as it may: another process may have room."""

    code = "live_streams_busy"
    http_status = 503
    retry_after = 5
