from django.contrib import admin
from django.urls import include, path

from api.health import healthz, readyz
from api.metrics import metrics_view
from api.views import graphql_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql", graphql_view(), name="graphql"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("api.pages.urls")),  # /e/<id>/: the page an e-mailed event link opens
]
