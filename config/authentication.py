from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>`, the form every HTTP client and gateway knows."""

    keyword = "Bearer"
