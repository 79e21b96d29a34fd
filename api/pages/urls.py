from django.urls import path

from api.pages.views import event_page

urlpatterns = [
    path("e/<int:event_id>/", event_page, name="event_page"),
]
