from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "GraphQL API"

    def ready(self) -> None:
        from api.metrics import record_holds_expired
        from reservation.signals import holds_expired

        holds_expired.connect(record_holds_expired, dispatch_uid="metrics.holds_expired")
