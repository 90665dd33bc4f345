"""Service errors, shaped as the sso-oidc and sso (portal) services send them.

OIDC errors carry ``{"error": "<oauth code>", "error_description": "..."}``; portal errors carry
``{"message": "..."}``. Both send the exception name in ``x-amzn-ErrorType``, which botocore's
rest-json parser uses as the error code.
"""

from __future__ import annotations

# exception name -> (HTTP status, OAuth error code), from the sso-oidc model (2019-06-10).
OIDC_ERRORS = {
    "InvalidRequestException": (400, "invalid_request"),
    "InvalidClientException": (401, "invalid_client"),
    "InvalidGrantException": (400, "invalid_grant"),
    "UnauthorizedClientException": (400, "unauthorized_client"),
    "UnsupportedGrantTypeException": (400, "unsupported_grant_type"),
    "InvalidScopeException": (400, "invalid_scope"),
    "AuthorizationPendingException": (400, "authorization_pending"),
    "SlowDownException": (400, "slow_down"),
    "AccessDeniedException": (400, "access_denied"),
    "ExpiredTokenException": (400, "expired_token"),
    "InternalServerException": (500, "server_error"),
    "InvalidClientMetadataException": (400, "invalid_client_metadata"),
    "InvalidRedirectUriException": (400, "invalid_redirect_uri"),
    # Not in the sso-oidc model; what the simulator's throttle answers on OIDC routes.
    "TooManyRequestsException": (429, "too_many_requests"),
}

# exception name -> HTTP status, from the sso model (2019-06-10), plus ForbiddenException,
# which the model lacks but the real portal sends ("No access") for an unassigned account/role.
PORTAL_ERRORS = {
    "InvalidRequestException": 400,
    "UnauthorizedException": 401,
    "ForbiddenException": 403,
    "ResourceNotFoundException": 404,
    "TooManyRequestsException": 429,
}


class ApiError(Exception):
    """An error answer from one of the two APIs."""

    def __init__(self, status: int, error_type: str, body: dict[str, str]) -> None:
        super().__init__(error_type)
        self.status = status
        self.error_type = error_type
        self.body = body


def oidc_error(error_type: str, description: str) -> ApiError:
    status, code = OIDC_ERRORS[error_type]
    return ApiError(status, error_type, {"error": code, "error_description": description})


def portal_error(error_type: str, message: str) -> ApiError:
    return ApiError(PORTAL_ERRORS[error_type], error_type, {"message": message})


def unauthorized() -> ApiError:
    # The real portal's wording.
    return portal_error("UnauthorizedException", "Session token not found or invalid")


def no_access() -> ApiError:
    return portal_error("ForbiddenException", "No access")
