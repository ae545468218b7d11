from django.urls import path

from journeys.onsite import views

# Under /v1/onsite/ (CORS as for ingestion) …
urlpatterns = [
    path("decide", views.decide, name="onsite-decide"),
    path("interactions", views.interaction, name="onsite-interaction"),
    path("submit", views.submit, name="onsite-submit"),
]
# … and the snippet under /onsite/.
snippet_urlpatterns = [
    path("<str:version>/onsite.js", views.snippet, name="onsite-snippet"),
    path("demo/shop/", views.demo_shop, name="onsite-demo-shop"),
]
