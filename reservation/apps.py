from django.apps import AppConfig


class ReservationConfig(AppConfig):
    name = "reservation"
    verbose_name = "Rendezvous"

    def ready(self) -> None:
        from django.core.signals import request_started

        from reservation.dbrouting import skip_quiet_health_checks

        # After Django's close_old_connections (connected when django.db was imported).
        request_started.connect(skip_quiet_health_checks, dispatch_uid="dbrouting.health")
