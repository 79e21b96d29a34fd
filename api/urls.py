from django.contrib import admin
from django.urls import include, path

from api.views import graphql_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql", graphql_view(), name="graphql"),
    path("", include("api.pages.urls")),  # /e/<id>/: the page an e-mailed event link opens
]
