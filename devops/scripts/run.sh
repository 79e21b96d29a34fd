#!/usr/bin/env bash
# Serve the API with gunicorn and run the Procrastinate worker beside it, the worker restarted
# whenever it exits (devops/scripts/supervise.py); Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec .venv/bin/python devops/scripts/supervise.py
