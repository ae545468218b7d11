"""Behaviour pages under /analytics/ (funnels, retention, search, slots, affinity, new products)."""

from django.urls import path

from tracking.analytics import views_behaviour as views

urlpatterns = [
    path("behaviour/", views.index_view, name="behaviour"),
    path("funnels/", views.funnel_view, name="behaviour-funnel"),
    path("retention/", views.retention_view, name="behaviour-retention"),
    path("search/", views.search_view, name="behaviour-search"),
    path("slots/", views.slots_view, name="behaviour-slots"),
    path("affinity/", views.affinity_view, name="behaviour-affinity"),
    path("new-products/", views.new_products_view, name="behaviour-new-products"),
    path("saved/", views.save_view, name="behaviour-save"),
    path("saved/<int:pk>/", views.saved_view, name="behaviour-saved"),
]
