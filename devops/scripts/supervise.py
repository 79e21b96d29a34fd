#!/usr/bin/env python3
"""Run gunicorn (HTTP), gunicorn with uvicorn's worker class (the WebSocket of GraphQL
subscriptions, its own process group) and the Procrastinate worker side by side (`make run`),
as a process manager would: the worker is started again whenever it exits, whatever its
status, after a pause that grows from 1 s to 30 s while it keeps failing (the database is
down) and starts at 1 s again once it has run for a minute. gunicorn restarts its own
workers; if either gunicorn exits, everything stops with its status. SIGINT/SIGTERM (Ctrl-C)
stop them all gracefully.

    devops/scripts/supervise.py            # from the repository root, with .venv installed
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
WEB = [str(BIN / "gunicorn"), "api.wsgi", "-c", "devops/gunicorn.conf.py"]
WS = [str(BIN / "gunicorn"), "api.asgi:application", "-c", "devops/gunicorn_ws.conf.py"]
WORKER = [str(BIN / "python"), "manage.py", "worker"]
HEALTHY_AFTER = 60.0  # a worker that ran this long was healthy: the next pause is short again
MAX_PAUSE = 30.0

stopping = False


def log(message: str) -> None:
    print(f"supervise: {message}", file=sys.stderr, flush=True)


def on_signal(signum: int, frame: object) -> None:
    global stopping
    stopping = True


def start(command: list[str]) -> subprocess.Popen:
    # Own process group: a Ctrl-C on the terminal reaches us only, and we stop the children
    # in order (gunicorn and the worker each shut down gracefully on SIGTERM).
    return subprocess.Popen(command, cwd=ROOT, start_new_session=True)


def stop(process: subprocess.Popen | None, grace: float = 60.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(
    web_command: list[str] = WEB, worker_command: list[str] = WORKER, ws_command: list[str] = WS
) -> int:
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    web = start(web_command)
    ws = start(ws_command) if ws_command else None
    worker: subprocess.Popen | None = start(worker_command)
    worker_started = time.monotonic()
    restart_at = 0.0
    pause = 0.5  # doubled before use: the first restart waits 1 s
    status = 0
    while not stopping:
        time.sleep(0.2)
        if web.poll() is not None:
            status = web.returncode
            log(f"gunicorn exited with status {status}: stopping")
            break
        if ws is not None and ws.poll() is not None:
            status = ws.returncode
            log(f"gunicorn (WebSocket) exited with status {status}: stopping")
            break
        if worker is not None and worker.poll() is not None:
            ran = time.monotonic() - worker_started
            pause = 1.0 if ran >= HEALTHY_AFTER else min(pause * 2, MAX_PAUSE)
            log(f"the worker exited with status {worker.returncode}; restarting in {pause:g} s")
            worker, restart_at = None, time.monotonic() + pause
        if worker is None and time.monotonic() >= restart_at:
            worker, worker_started = start(worker_command), time.monotonic()
    log("stopping gunicorn and the worker...")
    stop(worker)
    stop(ws)
    stop(web)
    log("stopped.")
    return status


if __name__ == "__main__":
    os.chdir(ROOT)
    # Tests give other commands, as JSON lists: SUPERVISE_WEB, SUPERVISE_WORKER, SUPERVISE_WS
    # (an empty list: no WebSocket server).
    ws_env = os.environ.get("SUPERVISE_WS")
    sys.exit(
        main(
            json.loads(os.environ.get("SUPERVISE_WEB") or "null") or WEB,
            json.loads(os.environ.get("SUPERVISE_WORKER") or "null") or WORKER,
            json.loads(ws_env) if ws_env is not None else WS,
        )
    )
