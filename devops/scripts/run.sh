#!/usr/bin/env bash
# Serve the API with gunicorn and run the Procrastinate worker beside it; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin

"$PY/python" manage.py procrastinate worker &
worker=$!
"$PY/gunicorn" api.wsgi -c devops/gunicorn.conf.py &
web=$!

stop() {
    trap - INT TERM
    echo "stopping gunicorn ($web) and the worker ($worker)..."
    kill -TERM "$web" "$worker" 2>/dev/null || true
    wait "$web" "$worker" 2>/dev/null || true
    echo "stopped."
}
trap 'stop; exit 0' INT TERM

# Ctrl-C reaches both processes (same process group) and each shuts down gracefully; when
# either exits, stop the other. A clean exit (0) is a shutdown, anything else a failure.
status=0
wait -n "$web" "$worker" || status=$?
stop
if [ "$status" -ne 0 ]; then
    echo "a process failed with status $status" >&2
fi
exit "$status"
