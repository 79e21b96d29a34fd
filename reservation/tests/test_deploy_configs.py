# ruff: noqa: S603 (runs nginx, compose, sh and the scripts under test: fixed argument lists)
"""The deployment files parse and say what README, Deployment, promises.

Docker cannot run on the development and CI machines, so no image is built and no container
started here. What can be checked is: compose.yml's structure (with PyYAML when importable,
else the text checks only) and `docker compose config` when a compose binary exists; the nginx
configs with `nginx -t` when nginx is installed (Debian's `nginx` package); the gunicorn config
through gunicorn's own loader; the Dockerfile's stages, user and secrets; and the entrypoint,
nginx start script and healthcheck script run for real where they need no Docker.
"""

import datetime
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yml"
DEVOPS = ROOT / "devops"
DOCKERFILE = DEVOPS / "Dockerfile"
ENTRYPOINT = DEVOPS / "entrypoint.sh"
HEALTHCHECK = DEVOPS / "healthcheck.py"
NGINX_DIR = DEVOPS / "nginx"
GUNICORN_CONF = DEVOPS / "gunicorn.conf.py"
README = ROOT / "README.md"

try:
    import yaml
except ImportError:  # not a dependency of the project: the deep compose checks are skipped
    yaml = None

needs_yaml = pytest.mark.skipif(
    yaml is None, reason="PyYAML is not installed in this environment (not a dependency)"
)

# Environment variables the code reads: settings/*.py, the gunicorn config and api.runtime.
_ENV_READ = re.compile(
    r"""(?:os\.environ\.get|os\.getenv|env_bool|env_int|env_list|env_rate|env_secret|os\.environ\[)"""
    r"""\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
)
# Read by the image itself (entrypoint, healthcheck), not by Django.
IMAGE_VARIABLES = {"MIGRATE_ON_START", "DB_WAIT_TIMEOUT"}
# Fixed by the image or by compose.yml and not meant to be set by hand.
NOT_IN_COMPOSE = {
    "DJANGO_SETTINGS_MODULE",
    # set by devops/gunicorn.conf.py for its own processes (api/metrics.py)
    "PROMETHEUS_MULTIPROC_DIR",
    "RENDEZVOUS_METRICS_PROCESS",
}


def variables_read_by_the_code() -> set[str]:
    settings_files = sorted((ROOT / "settings").glob("*.py"))
    sources = [*settings_files, GUNICORN_CONF, ROOT / "api" / "runtime.py"]
    return {name for path in sources for name in _ENV_READ.findall(path.read_text())}


def compose_text() -> str:
    return COMPOSE.read_text()


def compose() -> dict:
    return yaml.safe_load(compose_text())


# --- compose.yml ------------------------------------------------------------------------------


def test_compose_text_works_on_a_fresh_clone_and_with_compose_v1():
    text = compose_text()
    services = set(re.findall(r"^  ([a-z][a-z0-9_-]*):\s*$", text.split("\nservices:", 1)[1], re.M))
    assert {"secrets", "db", "app", "worker", "redis", "nginx", "mail"} <= services
    # Nothing to write in .env first: no required variable.
    assert ":?" not in text
    # docker-compose v1 refuses a top-level name:
    assert not re.search(r"^name:", text, re.M)
    # Every image pinned to a version (never latest, stable or a bare major).
    images = re.findall(r"^\s+image: (\S+)$", text, re.M)
    pinned = [i for i in images if not i.startswith("${")]
    assert pinned, images
    for image in pinned:
        tag = image.rsplit(":", 1)[-1]
        assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?(-[a-z0-9]+)?", tag), image
    assert "\t" not in text, "YAML forbids tabs for indentation"


def test_secrets_are_made_once_kept_and_overridden_by_the_environment(tmp_path, monkeypatch):
    """devops/make_secrets.py (compose's `secrets` service) and settings' *_FILE reading."""
    script = DEVOPS / "make_secrets.py"
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "POSTGRES_PASSWORD"}}

    def run(**env: str) -> str:
        return subprocess.run(
            [sys.executable, str(script), str(tmp_path / "s")],
            env={**clean, **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert run() == "secrets: made secret_key, postgres_password"
    key = (tmp_path / "s" / "secret_key").read_text()
    password = (tmp_path / "s" / "postgres_password").read_text()
    assert (len(key), len(password)) == (64, 32)
    assert run() == "secrets: kept the existing ones"
    assert (tmp_path / "s" / "secret_key").read_text() == key
    assert run(POSTGRES_PASSWORD="from-env") == "secrets: made postgres_password"
    assert (tmp_path / "s" / "postgres_password").read_text() == "from-env"

    code = (
        "import settings as s; "
        "print(s.SECRET_KEY == open(s.os.environ['SECRET_KEY_FILE']).read(), "
        "s.DATABASES['default']['PASSWORD'])"
    )
    settings_env = {
        **clean,
        "DEBUG": "0",
        "SECRET_KEY_FILE": str(tmp_path / "s" / "secret_key"),
        "DATABASE_URL": "postgresql://rendezvous@db:5432/rendezvous",
        "DATABASE_PASSWORD_FILE": str(tmp_path / "s" / "postgres_password"),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=settings_env, cwd=ROOT, capture_output=True, text=True
    )
    assert out.stdout.strip() == "True from-env", out.stderr
    # Production still refuses the default: no key, no file
    del settings_env["SECRET_KEY_FILE"]
    refused = subprocess.run(
        [sys.executable, "-c", code], env=settings_env, cwd=ROOT, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "SECRET_KEY is the insecure default while DEBUG is off" in refused.stderr


@needs_yaml
def test_compose_services_volumes_and_healthchecks():
    config = compose()
    services = config["services"]
    assert set(services) == {
        "secrets",
        "db",
        "app",
        "subscriptions",
        "worker",
        "redis",
        "nginx",
        "mail",
    }
    assert services["secrets"]["restart"] == "no"
    assert services["db"]["depends_on"]["secrets"]["condition"] == "service_completed_successfully"

    db = services["db"]
    assert db["image"].startswith("postgres:")
    assert any(v.startswith("pgdata:/var/lib/postgresql/data") for v in db["volumes"])
    assert "pgdata" in config["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])

    app, worker = services["app"], services["worker"]
    for service in (app, worker):
        assert service["build"] == {"context": ".", "dockerfile": "devops/Dockerfile"}
        assert service["image"] == app["image"]
        assert service.get("read_only") is True
    assert app["command"][:2] == ["gunicorn", "api.wsgi"]
    assert "devops/gunicorn.conf.py" in app["command"]
    assert app["environment"]["GUNICORN_BIND"] == "0.0.0.0:8000"
    assert "/healthz" in " ".join(app["healthcheck"]["test"])
    assert app["environment"]["MIGRATE_ON_START"] == "1"
    assert "MIGRATE_ON_START" not in worker["environment"]
    # Exits non-zero when it must be restarted, and the restart policy restarts it.
    assert worker["command"] == ["python", "manage.py", "worker"]
    assert worker["restart"] == "unless-stopped"
    assert worker["healthcheck"]["test"] == ["CMD", "python", "manage.py", "worker", "--check"]
    # No metrics folder shared between containers: the secrets only, read-only.
    assert worker["volumes"] == app["volumes"] == ["secrets:/var/lib/rendezvous/secrets:ro"]
    assert "PROMETHEUS_MULTIPROC_DIR" not in app["environment"]
    # The worker starts once the app has migrated (Procrastinate's tables).
    assert worker["depends_on"]["app"]["condition"] == "service_healthy"
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert "ports" not in app, "the app is reached through nginx"
    assert "ports" not in worker

    # The WebSocket of GraphQL subscriptions: gunicorn with uvicorn's worker class, its own
    # service (process group), reached through nginx only, after the app migrated.
    ws = services["subscriptions"]
    assert ws["image"] == app["image"]
    assert ws["command"] == [
        "gunicorn",
        "api.asgi:application",
        "-c",
        "devops/gunicorn_ws.conf.py",
    ]
    assert ws["environment"]["SUBSCRIPTIONS_BIND"] == "0.0.0.0:8001"
    assert ws["environment"]["MIGRATE_ON_START"] == "0"
    assert "GC_THRESHOLD" in ws["environment"]  # api.asgi reads it too (api.runtime)
    assert ws["depends_on"]["app"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(ws["healthcheck"]["test"])
    assert "ports" not in ws

    env = app["environment"]
    assert env["SECRET_KEY"] == "${SECRET_KEY:-}"
    assert env["SECRET_KEY_FILE"] == "/var/lib/rendezvous/secrets/secret_key"
    assert env["DATABASE_PASSWORD_FILE"] == "/var/lib/rendezvous/secrets/postgres_password"
    assert env["DEBUG"] == "0"
    assert "@db:5432/" in env["DATABASE_URL"]
    assert env["EMAIL_HOST"] == "${EMAIL_HOST:-mail}"
    assert env["EMAIL_PORT"] == "${EMAIL_PORT:-1025}"
    assert "redis://redis:6379" in env["REDIS_URL"]
    assert env["TRUSTED_PROXY_COUNT"] == "1"

    nginx = services["nginx"]
    assert nginx["image"].startswith("nginx:")
    ports = " ".join(nginx["ports"])
    assert ":80" in ports
    assert ":443" in ports
    assert "./devops/nginx:/etc/nginx/rendezvous:ro" in nginx["volumes"]
    assert "./devops/certs:/etc/nginx/certs:ro" in nginx["volumes"]
    assert nginx["command"][-1] == "/etc/nginx/rendezvous/start.sh"

    mail = services["mail"]
    assert mail["image"].startswith("axllent/mailpit")
    assert any(p.endswith(":8025") for p in mail["ports"])
    assert "1025" in [str(p) for p in mail["expose"]]
    assert services["redis"]["image"].startswith("redis:")


@needs_yaml
def test_compose_passes_every_variable_the_code_reads():
    services = compose()["services"]
    passed = set(services["app"]["environment"]) & set(services["worker"]["environment"])
    passed |= set(services["app"]["environment"])  # gunicorn's own: the app only
    missing = variables_read_by_the_code() - passed - NOT_IN_COMPOSE
    assert not missing, f"add to x-app-environment in compose.yml: {sorted(missing)}"


def test_readme_documents_every_environment_variable():
    readme = README.read_text()
    names = variables_read_by_the_code() | IMAGE_VARIABLES
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert not missing, f"README (Configuration / Deployment) does not name: {missing}"


def compose_binary() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config(tmp_path):
    command = compose_binary()
    if command is None:
        pytest.skip("no `docker compose` (or docker-compose) on this machine")
    env = {
        **os.environ,
        "SECRET_KEY": "x" * 50,
        "POSTGRES_PASSWORD": "test-password",
    }
    path = COMPOSE
    result = subprocess.run(
        [*command, "--project-directory", str(ROOT), "-f", str(path), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "gunicorn" in result.stdout

    # A fresh clone: nothing set, still valid (the secrets are generated at first start).
    fresh = {k: v for k, v in env.items() if k not in {"SECRET_KEY", "POSTGRES_PASSWORD"}}
    config = subprocess.run(
        [*command, "--project-directory", str(ROOT), "-f", str(path), "config"],
        capture_output=True,
        text=True,
        env=fresh,
        cwd=ROOT,
        check=False,
    )
    assert config.returncode == 0, config.stderr


# --- nginx ------------------------------------------------------------------------------------


def nginx_prefix(tmp_path: Path, with_certs: bool) -> Path:
    """The container's layout under tmp_path: rendezvous/ (the configs), certs/, mime.types."""
    shutil.copytree(NGINX_DIR, tmp_path / "rendezvous")
    mime = Path("/etc/nginx/mime.types")
    (tmp_path / "mime.types").write_text(
        mime.read_text() if mime.exists() else "types { text/html html; }\n"
    )
    for conf in (tmp_path / "rendezvous").glob("*.conf"):
        conf.write_text(conf.read_text().replace("/etc/nginx/mime.types", "../mime.types"))
    certs = tmp_path / "certs"
    certs.mkdir()
    if with_certs:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("openssl is not installed: no test certificate")
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                "-keyout",
                str(certs / "privkey.pem"),
                "-out",
                str(certs / "fullchain.pem"),
            ],
            capture_output=True,
            check=True,
        )
    return tmp_path


@pytest.mark.parametrize(("conf", "with_certs"), [("nginx.conf", False), ("nginx-tls.conf", True)])
def test_nginx_config_passes_nginx_t(tmp_path, conf, with_certs):
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx to run this check)")
    prefix = nginx_prefix(tmp_path, with_certs)
    result = subprocess.run(
        [nginx, "-t", "-p", f"{prefix}/", "-e", "stderr", "-c", str(prefix / "rendezvous" / conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_config_says_what_the_readme_promises():
    common = (NGINX_DIR / "common.conf").read_text()
    locations = (NGINX_DIR / "locations.conf").read_text()
    tls = (NGINX_DIR / "nginx-tls.conf").read_text()
    assert "gzip on;" in common
    # Above the app's GRAPHQL_MAX_BODY_BYTES (1 MiB): the app's JSON 413 answers first.
    assert "client_max_body_size 2m;" in common
    assert "proxy_set_header Host $http_host;" in locations  # with its port
    for status, location in (("413", "@too_large"), ("502", "@unavailable"), ("504", "@timed_out")):
        assert f"error_page {status} {location};" in locations
        body = locations.split(f"location {location} {{", 1)[1].split("}\n", 1)[0]
        assert f'return {status} \'{{"errors":[{{"message"' in body
        assert "default_type application/json;" in body
    assert re.search(r"limit_req_zone .* rate=10r/s;", common)
    assert "limit_req_status 429;" in common
    graphql = locations.split("location = /graphql {", 1)[1].split("}", 1)[0]
    assert "limit_req zone=rendezvous_graphql burst=20" in graphql
    assert "proxy_read_timeout" in locations
    assert "proxy_connect_timeout" in locations
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Request-ID"):
        assert f"proxy_set_header {header} " in locations
    metrics = locations.split("location = /metrics {", 1)[1].split("}", 1)[0]
    assert "deny all;" in metrics
    assert "listen 443 ssl" in tls
    assert "return 301 https://" in tls


def run_start_script(tmp_path: Path, certs: dict[str, str]) -> subprocess.CompletedProcess:
    """devops/nginx/start.sh with a stand-in `nginx` that records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "nginx-args"
    stub = bin_dir / "nginx"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {record}\n')
    stub.chmod(0o755)
    certs_dir = tmp_path / "certs"
    certs_dir.mkdir()
    for name, content in certs.items():
        (certs_dir / name).write_text(content)
    return subprocess.run(
        ["/bin/sh", str(NGINX_DIR / "start.sh")],
        capture_output=True,
        text=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "NGINX_CERTS_DIR": str(certs_dir)},
        check=False,
    )


def test_nginx_start_chooses_tls_when_certificates_are_mounted(tmp_path):
    (tmp_path / "plain").mkdir()
    plain = run_start_script(tmp_path / "plain", {})
    assert plain.returncode == 0, plain.stderr
    args = (tmp_path / "plain" / "nginx-args").read_text().splitlines()
    assert args[-1].endswith("/nginx.conf -g daemon off;")
    assert args[0].startswith("-t -q -c ")

    (tmp_path / "tls").mkdir()
    tls = run_start_script(tmp_path / "tls", {"fullchain.pem": "x", "privkey.pem": "y"})
    assert tls.returncode == 0, tls.stderr
    args = (tmp_path / "tls" / "nginx-args").read_text().splitlines()
    assert args[-1].endswith("/nginx-tls.conf -g daemon off;")

    (tmp_path / "half").mkdir()
    half = run_start_script(tmp_path / "half", {"fullchain.pem": "x"})
    assert half.returncode != 0
    assert "privkey.pem" in half.stderr


# --- gunicorn ---------------------------------------------------------------------------------


def load_gunicorn_config(monkeypatch, **env):
    from gunicorn.app.base import Application

    for name in list(os.environ):
        if name.startswith("GUNICORN_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The config sets these for gunicorn's own processes: undone after the test.
    for name in ("PROMETHEUS_MULTIPROC_DIR", "RENDEZVOUS_METRICS_PROCESS"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("METRICS_DIR", str(Path(tempfile.mkdtemp(prefix="rdv-gunicorn-"))))

    class ConfigOnly(Application):
        def init(self, parser, opts, args):
            return None

        def load_config(self):
            self.load_config_from_file(str(GUNICORN_CONF))

        def load(self):
            return None

    return ConfigOnly().cfg


def test_gunicorn_config_loads_with_workers_from_the_cores(monkeypatch):
    import multiprocessing

    cfg = load_gunicorn_config(monkeypatch)
    assert cfg.workers == 2 * multiprocessing.cpu_count() + 1
    assert cfg.timeout == 30
    assert cfg.graceful_timeout == 30
    assert cfg.bind == ["127.0.0.1:8000"]
    assert cfg.accesslog == "-"
    # The sync worker by default (the booking's tail latency: devops/gunicorn.conf.py).
    assert cfg.threads == 1
    assert cfg.worker_class_str == "sync"

    cfg = load_gunicorn_config(
        monkeypatch, GUNICORN_BIND="0.0.0.0:8000", GUNICORN_WORKERS="3", GUNICORN_THREADS="2"
    )
    assert cfg.bind == ["0.0.0.0:8000"]  # what compose.yml and the Dockerfile set
    assert cfg.workers == 3
    assert cfg.threads == 2
    assert cfg.worker_class_str == "gthread"


def test_gunicorn_lines_are_json_with_iso_times(monkeypatch, tmp_path):
    """Its access lines (JsonAccessLogger) and its own lines go through the application's
    JSON formatter: one object per line, an ISO 8601 time, the response's request id."""
    import io
    import logging

    cfg = load_gunicorn_config(monkeypatch, DEBUG="0", LOG_FORMAT="json")
    assert cfg.logger_class.__name__ == "JsonAccessLogger"
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    try:
        logger = cfg.logger_class(cfg)

        class Response:
            status = "200 OK"
            sent = 1234
            headers = [("X-Request-ID", "abc-123"), ("Content-Type", "application/json")]

        class Request:
            headers = [("USER-AGENT", 'curl/8 "quoted"'), ("X-REQUEST-ID", "abc-123")]

        environ = {
            "REMOTE_ADDR": "10.0.0.1",
            "REQUEST_METHOD": "POST",
            "RAW_URI": "/graphql",
            "PATH_INFO": "/graphql",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_USER_AGENT": 'curl/8 "quoted"',
        }
        logger.access(Response(), Request(), environ, datetime.timedelta(microseconds=1500))
        logger.error("Worker (pid:%s) was sent SIGKILL!", 42)
        [access] = [json.loads(line) for line in sys.stdout.getvalue().splitlines()]
        [error] = [json.loads(line) for line in sys.stderr.getvalue().splitlines()]
    finally:
        for name in ("gunicorn.error", "gunicorn.access"):
            logging.getLogger(name).handlers.clear()
    time = access.pop("time")
    assert datetime.datetime.fromisoformat(time).utcoffset() == datetime.timedelta(0)
    assert access == {
        "level": "INFO",
        "logger": "gunicorn.access",
        "message": "POST /graphql 200",
        "remote": "10.0.0.1",
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "bytes": 1234,
        "duration_us": 1500,
        "request_id": "abc-123",
        "user_agent": 'curl/8 "quoted"',
    }
    assert datetime.datetime.fromisoformat(error.pop("time")).tzinfo is not None
    assert error == {
        "level": "ERROR",
        "logger": "gunicorn.error",
        "message": "Worker (pid:42) was sent SIGKILL!",
    }


# --- Dockerfile, entrypoint, healthcheck --------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_is_multi_stage_and_runs_as_a_non_root_user():
    instructions = dockerfile_instructions()
    stages = [args for op, args in instructions if op == "FROM"]
    assert len(stages) >= 2, "builder and runtime stages"
    assert any(op == "COPY" and args.startswith("--from=builder") for op, args in instructions)
    final_stage = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    users = [args for op, args in final_stage if op == "USER"]
    assert users, "the final stage sets USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    entrypoint = next(args for op, args in final_stage if op == "ENTRYPOINT")
    assert json.loads(entrypoint) == ["/app/devops/entrypoint.sh"]
    assert any(op == "RUN" and "--require-hashes" in args for op, args in instructions)


def test_dockerfile_bakes_no_secrets():
    instructions = dockerfile_instructions()
    secretish = re.compile(r"(SECRET|PASSWORD|TOKEN|PRIVATE_KEY)", re.I)
    for op, args in instructions:
        if op in {"ENV", "ARG", "LABEL"}:
            assert not secretish.search(args), f"{op} {args}"
        if op in {"COPY", "ADD"}:
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            assert not {".", "./"} & set(sources), "copy the code explicitly"
            assert not any(s.startswith((".env", "devops/certs")) for s in sources)
    # collectstatic runs with a throwaway key, in that RUN only, long enough for the settings.
    collect = next(args for op, args in instructions if op == "RUN" and "collectstatic" in args)
    key = re.search(r"SECRET_KEY=(\S+)", collect).group(1)
    assert len(key) >= 32
    assert "DEBUG=0" in collect
    from settings import INSECURE_DEFAULT_SECRET_KEY

    assert key != INSECURE_DEFAULT_SECRET_KEY


def test_a_healthcheck_is_defined():
    if any(op == "HEALTHCHECK" for op, _ in dockerfile_instructions()):
        return
    # compose.yml's: the app block, up to the next service, has one.
    app_block = re.search(r"^  app:\n(.*?)^  \w", compose_text(), re.M | re.S).group(1)
    assert "    healthcheck:\n" in app_block
    assert "devops/healthcheck.py" in app_block


def test_entrypoint_and_scripts_are_executable_shell():
    for script in (ENTRYPOINT, NGINX_DIR / "start.sh", HEALTHCHECK):
        assert os.access(script, os.X_OK), f"chmod +x {script.relative_to(ROOT)}"
    for script in (ENTRYPOINT, NGINX_DIR / "start.sh"):
        subprocess.run(["/bin/sh", "-n", str(script)], check=True)
    assert 'exec "$@"' in ENTRYPOINT.read_text()


def entrypoint_env(**extra: str) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "settings",
        "DEBUG": "0",
        "SECRET_KEY": "entrypoint-test-" + "k" * 40,
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def test_entrypoint_gives_up_on_an_unreachable_database():
    result = subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), "echo", "SHOULD-NOT-RUN"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=entrypoint_env(
            DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", DB_WAIT_TIMEOUT="1"
        ),
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "SHOULD-NOT-RUN" not in result.stdout
    assert "no database after 1 s" in result.stderr


def test_entrypoint_runs_the_command():
    result = subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), "echo", "command ran"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=entrypoint_env(DB_WAIT_TIMEOUT="0"),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "command ran\n"


def serve(status: int) -> tuple[http.server.HTTPServer, list[str]]:
    hosts: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hosts.append(self.headers["Host"])
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hosts


@pytest.mark.parametrize(("status", "code"), [(200, 0), (503, 1)])
def test_healthcheck_script(status, code):
    server, hosts = serve(status)
    try:
        result = subprocess.run(
            [sys.executable, str(HEALTHCHECK), "/healthz"],
            capture_output=True,
            text=True,
            env={
                "GUNICORN_BIND": f"0.0.0.0:{server.server_port}",
                "ALLOWED_HOSTS": " .api.example.com,localhost",
            },
            timeout=30,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == code, result.stderr
    assert hosts == ["api.example.com"]  # the first allowed host, so Django accepts it


def test_healthcheck_fails_when_nothing_listens():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    result = subprocess.run(
        [sys.executable, str(HEALTHCHECK)],
        capture_output=True,
        text=True,
        env={"GUNICORN_BIND": f"0.0.0.0:{port}"},
        timeout=30,
        check=False,
    )
    assert result.returncode == 1


def _server_url(database: str) -> str:
    """The test server of pytest-django's database, for another database on it."""
    from django.db import connection

    db = connection.settings_dict
    host = db["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        return f"postgresql://{db['USER']}@/{database}?host={host}"
    return f"postgresql://{db['USER']}@{host}:{db['PORT'] or 5432}/{database}"


@pytest.mark.django_db
def test_two_app_processes_starting_together_both_migrate_and_come_up(tmp_path):
    """Two entrypoints against one empty database, with a statement timeout (1 ms) that no
    migration could meet: one takes the lock and migrates, the other waits for it (no
    timeout on the wait), and both run their command."""
    import psycopg
    from django.db import connection

    name = f"{connection.settings_dict['NAME']}_migrate_race"
    admin = _server_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = entrypoint_env(
            DATABASE_URL=_server_url(name),
            DATABASE_STATEMENT_TIMEOUT_MS="1",
            MIGRATE_ON_START="1",
            DB_WAIT_TIMEOUT="30",
        )
        processes = [
            subprocess.Popen(
                ["/bin/sh", str(ENTRYPOINT), "echo", f"app {i} up"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in (1, 2)
        ]
        results = [(p.wait(timeout=300), *p.communicate()) for p in processes]
        assert [(status, out.splitlines()[-1]) for status, out, _ in results] == [
            (0, "app 1 up"),
            (0, "app 2 up"),
        ], [err[-2000:] for _, _, err in results]
        # One of them waited for the other, and found nothing left to migrate.
        assert sum("another process is migrating" in err for _, _, err in results) == 1
        with psycopg.connect(_server_url(name)) as conn:
            (applied,) = conn.execute(
                "SELECT count(*) FROM django_migrations WHERE app = 'reservation'"
            ).fetchone()
        assert applied == len(list((ROOT / "reservation" / "migrations").glob("0*.py")))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_make_runs_supervisor_restarts_the_worker_whatever_its_status(tmp_path):
    """devops/scripts/supervise.py (make run): a worker that exits, 0 or 75, is started again
    (after 1 s, then 2 s...); SIGTERM stops the web process and the worker, status 0."""
    import signal
    import time

    runs = tmp_path / "runs"
    worker = [
        sys.executable,
        "-c",
        f"import sys; f = open({str(runs)!r}, 'a'); f.write('x'); f.close(); "
        "sys.exit(75 if len(open(" + repr(str(runs)) + ").read()) % 2 else 0)",
    ]
    web = [sys.executable, "-c", "import time; time.sleep(120)"]
    supervisor = subprocess.Popen(
        [sys.executable, str(DEVOPS / "scripts" / "supervise.py")],
        env={
            **os.environ,
            "SUPERVISE_WEB": json.dumps(web),
            "SUPERVISE_WORKER": json.dumps(worker),
            "SUPERVISE_WS": json.dumps(web),
        },
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while (not runs.exists() or len(runs.read_text()) < 3) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(runs.read_text()) >= 3  # started, restarted after 75, restarted after 0
    finally:
        supervisor.send_signal(signal.SIGTERM)
        status = supervisor.wait(timeout=30)
    log = supervisor.stderr.read()
    assert status == 0, log
    assert "the worker exited with status 75; restarting in 1 s" in log
    assert "the worker exited with status 0; restarting in 2 s" in log
    assert "stopped." in log


@pytest.mark.django_db(transaction=True)
def test_make_backup_and_make_restore_round_trip(tmp_path):
    """`make backup` of a database with rows, then `make restore` into an empty database:
    the same rows come back (and a second restore over them is fine: --clean)."""
    import psycopg
    from django.db import connection

    from reservation.tests.factories import make_user

    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore are not installed (postgresql-client)")
    make_user(email="kept@example.com", name="Kept")
    source = connection.settings_dict["NAME"]
    copy = f"{source}_restored"
    admin = _server_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{copy}"')
        conn.execute(f'CREATE DATABASE "{copy}"')
    dump = tmp_path / "rendezvous.dump"

    def make(target: str, database: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [shutil.which("make") or "/usr/bin/make", "-s", target, *extra],
            cwd=ROOT,
            env={**os.environ, "DEBUG": "1", "DATABASE_URL": _server_url(database)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    try:
        backup = make("backup", source, f"BACKUP={dump}")
        assert backup.returncode == 0, backup.stderr
        assert dump.stat().st_size > 0
        for _ in range(2):
            restored = make("restore", copy, f"BACKUP={dump}")
            assert restored.returncode == 0, restored.stderr
        with psycopg.connect(_server_url(copy)) as conn:
            users = conn.execute(
                "SELECT email, name FROM reservation_user ORDER BY email"
            ).fetchall()
            migrations = conn.execute("SELECT count(*) FROM django_migrations").fetchone()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM django_migrations")
            assert migrations == cursor.fetchone()
        assert users == [("kept@example.com", "Kept")]
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')


def test_the_native_stack_end_to_end():
    """`make stack-check`: nginx, gunicorn, the worker, a private PostgreSQL, Redis and an SMTP
    catcher from the project's own configs, checked end to end (devops/stack/stack.py says
    what: mail and a GraphQL subscription through a PostgreSQL restart, JSON errors from the
    app and nginx, hashed static files, CSP, CSRF behind a non-standard port, metrics,
    JSON-only logs)."""
    missing = [tool for tool in ("nginx", "redis-server", "createdb") if not shutil.which(tool)]
    if missing or not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        pytest.skip(f"missing {missing or ['initdb']} (.ci/run installs them)")
    result = subprocess.run(
        [sys.executable, str(DEVOPS / "stack" / "stack.py"), "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-5000:]
    checks = [line for line in result.stdout.splitlines() if line.startswith("ok  ")]
    assert len(checks) == 14, result.stdout
    assert "ok  WebSocket handshake from another Origin: HTTP 403" in checks
    assert any(c.startswith("ok  after the restart the subscription heard") for c in checks)
    assert checks[-1] == "ok  every gunicorn (HTTP and WebSocket) and worker log line is JSON"
