from django.urls import path

from api.inbound import inbound_mail
from api.pages import booking
from api.pages.feeds import calendar_feed_file, event_file
from api.pages.views import event_page

urlpatterns = [
    path("e/<int:event_id>/", event_page, name="event_page"),
    path("calendar/<str:secret>.ics", calendar_feed_file, name="calendar_feed"),
    path("events/<int:event_id>.ics", event_file, name="event_file"),
    path("inbound/mail", inbound_mail, name="inbound_mail"),
    # --- booking pages for clients (issue 11): slugs and public references, never IDs ---
    path("book/", booking.home, name="booking_home"),
    path("book/sign-in/", booking.sign_in, name="booking_sign_in"),
    path("book/sign-out/", booking.sign_out, name="booking_sign_out"),
    path("book/time-zone/", booking.time_zone, name="booking_time_zone"),
    path("book/coach/<slug:slug>/", booking.coach_week, name="booking_coach"),
    path("book/coach/<slug:slug>/book/", booking.book, name="booking_book"),
    path("book/appointments/", booking.appointments, name="booking_appointments"),
    path("book/appointments/<str:ref>/", booking.appointment, name="booking_appointment"),
    path("book/manage/<str:token>/", booking.manage, name="booking_manage"),
    # --- end of booking pages ---
]
