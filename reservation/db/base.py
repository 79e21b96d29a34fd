"""Django's PostgreSQL backend with a health check that needs no round trip when it can tell.

With CONN_HEALTH_CHECKS Django sends `SELECT 1` before the first query of every request: a
round trip in eight of a booking's, which the same SQL run by pgbench never pays. A
connection that is quiet (reservation.dbrouting.connection_is_quiet: no error since its last
good query, nothing to read on its socket) has not been closed by the server, which sends
its reason before it closes one (a restart, pg_terminate_backend, an idle timeout), so it is
taken to pass. Any other connection gets Django's `SELECT 1`, and is replaced if that fails,
as before. A connection that dies without a word (a cable pulled) is found by its next
query either way.
"""

from django.db.backends.postgresql import base

from reservation.dbrouting import connection_is_quiet


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and connection_is_quiet(self)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
