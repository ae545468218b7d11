"""REST framework and the OpenAPI schema."""

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Refuse a NUL anywhere in a body, naming the field (PostgreSQL cannot store it; core/text.py).
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "core.parsers.FormParser",
        "core.parsers.MultiPartParser",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "config.exceptions.api_exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Voyage API",
    "DESCRIPTION": "Marketing automation: tracking, audiences, channels and journeys.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc are served from our own static files, so the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The 400/401/403/404 every operation can answer, with their bodies (core/openapi.py); then the
    # Segment-compatible /v1/* endpoints and the on-site ones, plain Django views documented by hand
    # (their own answers).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.error_responses",
        "tracking.schema_ingest.ingest_paths_add",
        # The public on-site endpoints the snippet calls (plain Django views too).
        "journeys.onsite.schema.onsite_paths_add",
    ],
    # Several models have a `status` with its own choices: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "JourneyStatusEnum": "journeys.models.JourneyStatus",
        "RunStatusEnum": "journeys.models.RunStatus",
        "BroadcastStatusEnum": "journeys.models.BroadcastStatus",
        "DeliveryStatusEnum": "channels.partner.models.DeliveryStatus",
        "MessageStatusEnum": "channels.models.MessageStatus",
        "ConsentStatusEnum": "tracking.models.ConsentStatus",
    },
}
