"""Apache Superset for the marts: its own virtual environment (``.venv-bi``, made by `make bi`),
its metadata in SQLite under the home folder (``<home>/superset``), one gunicorn process on
127.0.0.1 started, checked and stopped here. Superset's code never enters this environment: every
Superset command runs as a program of ``.venv-bi``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from orchestration.lib import passwords
from orchestration.lib import settings as project_settings
from orchestration.lib.database import port_in_use
from orchestration.lib.process import CommandError, run_checked

BI_VENV_ENV = "VALUE_VIEW_BI_VENV"
DEFAULT_PORT = 8088
FOLDER = "superset"
ADMIN = "admin"
START_TIMEOUT_S = 300.0
INIT_TIMEOUT_S = 900.0
INSTALL_HINT = "run `make bi` first (it installs Superset into .venv-bi)"

CONFIG = """# Written by `value-view bi start`; rewritten on every start.
import json as _json

with open({secrets!r}) as _handle:
    SECRET_KEY = _json.load(_handle)["secret_key"]
SQLALCHEMY_DATABASE_URI = {database!r}
# the roles and users API provisioning uses
FAB_ADD_SECURITY_API = True
# nothing reaches the internet, nothing is kept between requests outside the metadata database
RATELIMIT_STORAGE_URI = "memory://"
FEATURE_FLAGS = {{"DASHBOARD_RBAC": True}}
PREVENT_UNSAFE_DB_CONNECTIONS = True
SQLLAB_CTAS_NO_LIMIT = False
TALISMAN_ENABLED = False
WTF_CSRF_TIME_LIMIT = None
LOG_LEVEL = "WARNING"
"""


class SupersetError(RuntimeError):
    """Superset cannot be installed, started or provisioned; one line saying why."""


@dataclass(frozen=True)
class Running:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def bi_venv() -> Path:
    return Path(os.environ.get(BI_VENV_ENV) or project_settings.PROJECT_ROOT / ".venv-bi")


class Superset:
    """The Superset of one home folder (``.value_view`` by default, a temporary one in tests)."""

    def __init__(self, home: Path, venv: Path | None = None) -> None:
        self.folder = home / FOLDER
        self.venv = venv or bi_venv()
        self.config = self.folder / "superset_config.py"
        self.secrets_path = self.folder / "secrets.json"
        self.state_path = self.folder / "server.json"
        self.log_path = self.folder / "superset.log"
        self.database = self.folder / "superset.db"

    # -- secrets ---------------------------------------------------------------------------
    def secrets(self) -> dict:
        try:
            return json.loads(self.secrets_path.read_text())
        except FileNotFoundError:
            return {}

    def save_secrets(self, values: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        passwords.write_private(self.secrets_path, json.dumps(values, indent=2, sort_keys=True))

    def secret(self, *path: str) -> str:
        """The stored secret at ``path`` (made once, kept in secrets.json, mode 0600)."""
        values = self.secrets()
        node = values
        for key in path[:-1]:
            node = node.setdefault(key, {})
        if path[-1] not in node:
            node[path[-1]] = passwords.new_password()
            self.save_secrets(values)
        return node[path[-1]]

    # -- programs --------------------------------------------------------------------------
    def program(self, name: str) -> str:
        path = self.venv / "bin" / name
        if not path.exists():
            raise SupersetError(f"{path} not found: {INSTALL_HINT}")
        return str(path)

    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PG", "VIRTUAL_ENV", "PYTHON"))
        }
        env["SUPERSET_CONFIG_PATH"] = str(self.config)
        env["FLASK_APP"] = "superset.app:create_app()"
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '')}"
        return env

    def superset(self, *args: str, what: str) -> None:
        try:
            run_checked(
                [self.program("superset"), *args],
                what=what,
                env=self.env(),
                cwd=self.folder,
                timeout=INIT_TIMEOUT_S,
            )
        except CommandError as exc:
            lines = [line for line in str(exc).splitlines() if line.strip()]
            raise SupersetError(f"{lines[0]} {lines[-1].strip()}") from exc

    def write_config(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.secret("secret_key")
        self.config.write_text(
            CONFIG.format(secrets=str(self.secrets_path), database=f"sqlite:///{self.database}")
        )

    def template(self) -> Path:
        """The metadata database right after `superset db upgrade` and `superset init`, kept in
        .venv-bi per Superset version: a new home copies it instead of migrating from scratch."""
        found = sorted(
            (self.venv / "lib").glob("python*/site-packages/apache_superset-*.dist-info")
        )
        if not found:
            raise SupersetError(f"apache-superset is not installed in {self.venv}: {INSTALL_HINT}")
        version = found[-1].name.removeprefix("apache_superset-").removesuffix(".dist-info")
        return self.venv / "value-view" / f"superset-{version}-metadata.db"

    def _build_template(self, template: Path) -> None:
        building = template.with_name(f".{template.name}.{os.getpid()}")
        building.parent.mkdir(parents=True, exist_ok=True)
        building.unlink(missing_ok=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.secret("secret_key")
        self.config.write_text(
            CONFIG.format(secrets=str(self.secrets_path), database=f"sqlite:///{building}")
        )
        try:
            self.superset("db", "upgrade", what="superset db upgrade")
            self.superset("init", what="superset init")
            os.replace(building, template)
        finally:
            building.unlink(missing_ok=True)

    def initialise(self) -> bool:
        """Create the metadata database (a copy of the template), its roles and the admin user
        once; False when done before."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.secret("secret_key")
        marker = self.folder / ".initialised"
        if marker.exists():
            self.write_config()
            return False
        template = self.template()
        if not template.exists():
            self._build_template(template)
        shutil.copyfile(template, self.database)
        self.write_config()
        self.superset(
            "fab",
            "create-admin",
            "--username",
            ADMIN,
            "--firstname",
            "Value",
            "--lastname",
            "View",
            "--email",
            "admin@value-view.invalid",
            "--password",
            self.secret("users", ADMIN),
            what="superset fab create-admin",
        )
        marker.touch()
        return True

    # -- the web server --------------------------------------------------------------------
    def status(self) -> Running | None:
        try:
            state = json.loads(self.state_path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(state["pid"], 0)
        except (ProcessLookupError, PermissionError):
            return None
        return Running(state["pid"], state["port"])

    def start(self, port: int = DEFAULT_PORT) -> Running:
        running = self.status()
        if running is not None:
            return running
        if port_in_use(port):
            raise SupersetError(f"port {port}: something already listens on 127.0.0.1:{port}")
        self.initialise()
        gunicorn = self.program("gunicorn")
        with self.log_path.open("a") as log:
            process = subprocess.Popen(
                [
                    gunicorn,
                    "--workers",
                    "1",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    "8",
                    "--timeout",
                    "120",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "superset.app:create_app()",
                ],
                env=self.env(),
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.state_path.write_text(json.dumps({"pid": process.pid, "port": port}))
        running = Running(process.pid, port)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._healthy(running):
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SupersetError(
                    f"Superset did not start on 127.0.0.1:{port}; see {self.log_path}"
                )
            time.sleep(1)
        return running

    @staticmethod
    def _healthy(running: Running) -> bool:
        try:
            with urllib.request.urlopen(f"{running.url}/health", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> bool:
        running = self.status()
        self.state_path.unlink(missing_ok=True)
        if running is None:
            return False
        try:
            os.killpg(running.pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(running.pid, os.WNOHANG)
            try:
                os.kill(running.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.2)
        os.killpg(running.pid, signal.SIGKILL)
        return True
