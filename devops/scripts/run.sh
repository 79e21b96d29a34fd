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

# If either dies, stop the other and fail.
wait -n "$web" "$worker" || true
echo "a process exited; shutting down" >&2
stop
exit 1
