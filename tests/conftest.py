import base64

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tracking.models import Source


@pytest.fixture
def source(db) -> Source:
    return Source.objects.create(name="web", write_key="wk_test_web")


@pytest.fixture
def basic_auth(source):
    token = base64.b64encode(f"{source.write_key}:".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@pytest.fixture
def staff_user(db) -> User:
    return User.objects.create_superuser("admin", "admin@example.com", "pw-admin-123")


@pytest.fixture
def api_client(staff_user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=staff_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    return client


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test starts with empty in-process and shared caches (sources, rate-limit windows)."""
    from django.core.cache import cache

    from tracking import origins, views_ingest

    views_ingest._SOURCE_CACHE.clear()
    origins.origins_cache_clear()
    cache.clear()
    yield
