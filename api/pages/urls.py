from django.urls import path

from api.inbound import inbound_mail
from api.pages.feeds import calendar_feed_file, event_file
from api.pages.views import event_page

urlpatterns = [
    path("e/<int:event_id>/", event_page, name="event_page"),
    path("calendar/<str:secret>.ics", calendar_feed_file, name="calendar_feed"),
    path("events/<int:event_id>.ics", event_file, name="event_file"),
    path("inbound/mail", inbound_mail, name="inbound_mail"),
]
