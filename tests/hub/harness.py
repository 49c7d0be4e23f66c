"""A real JupyterHub for tests: the ``jupyterhub`` package, configurable-http-proxy from npm,
the dummy authenticator and a local-process spawner, all on loopback, with the rt_notebook
service configured by the guide's own files (``docs/hub/``) plus a test's additions."""

from __future__ import annotations

import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.harness import (
    free_port,
    isolated_env,
    launch,
    read_log,
    request,
    stop_group,
    wait_up,
)

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "hub"
PROXY = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
SERVICE = "rt-notebook"
ADMIN_TOKEN = "hub-admin-" + secrets.token_hex(16)
"""A test-only service token with admin scopes, to create users, groups and tokens."""
PASSWORD = "class-" + secrets.token_hex(4)


def missing_parts() -> list[str]:
    missing = []
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        missing.append("jupyterhub (pip)")
    if not PROXY.exists():
        missing.append("configurable-http-proxy (npm)")
    return missing


HUB_CONFIG = """\
import sys
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {{"root-admin"}}
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.allow_named_servers = True
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + "/{{username}}"
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 60
c.Spawner.environment = {spawner_env!r}
c.Spawner.args = {spawner_args!r}
c.JupyterHub.db_url = "sqlite:///" + {db!r}
c.JupyterHub.cookie_secret_file = {cookie_secret!r}
c.JupyterHub.load_groups = {groups!r}
c.JupyterHub.services = [{{"name": "test-admin", "api_token": {admin_token!r}}}]
c.JupyterHub.load_roles = [
    {{"name": "test-admin", "scopes": ["admin:users", "admin:groups", "tokens", "admin:servers",
      "read:users"], "services": ["test-admin"]}},
]
c.JupyterHub.log_level = "INFO"
# The guide's configuration, as a class would use it:
load_subconfig({docs_config!r})  # noqa: F821
"""


@dataclass
class Hub:
    """A JupyterHub subprocess; ``groups`` maps group names to members."""

    base: Path
    service_config: str
    """Python appended to the guide's rt_notebook_hub_config.py for this test."""
    groups: dict[str, list[str]]
    spawner_args: list[str] = field(default_factory=list)
    port: int = 0
    service_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _log: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def service_url(self) -> str:
        """The service straight on its port (as users' servers reach it)."""
        return f"http://127.0.0.1:{self.service_port}/services/{SERVICE}/"

    @property
    def log_path(self) -> Path:
        return self.base / "hub.log"

    @property
    def homes(self) -> Path:
        return self.base / "homes"

    def log(self) -> str:
        return read_log(self.log_path)

    def configure(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.homes.mkdir(exist_ok=True)
        if not self.port:
            self.port, self.service_port = free_port(), free_port()
        service_config = self.base / "rt_notebook_hub_config.py"
        service_config.write_text(
            f"load_subconfig({str(DOCS / 'rt_notebook_hub_config.py')!r})  # noqa: F821\n"
            + self.service_config
        )
        home = self.base / "hub-home"
        env = isolated_env(home)
        spawner_env = {
            key: env[key]
            for key in env
            if key.startswith(("JUPYTER", "XDG_", "IPYTHON", "MPL")) or key in ("PYTHONUNBUFFERED",)
        }
        spawner_env["PYTHONPATH"] = str(REPO)
        (self.base / "jupyterhub_config.py").write_text(
            HUB_CONFIG.format(
                port=self.port,
                hub_port=free_port(),
                proxy_api_port=free_port(),
                proxy=str(PROXY),
                password=PASSWORD,
                homes=str(self.homes),
                spawner_env=spawner_env,
                spawner_args=["--allow-root", *self.spawner_args],
                db=str(self.base / "jupyterhub.sqlite"),
                cookie_secret=str(self.base / "cookie_secret"),
                groups=self.groups,
                admin_token=ADMIN_TOKEN,
                docs_config=str(DOCS / "jupyterhub_config.py"),
            )
        )
        self._env = env
        self._env.update(
            RT_NOTEBOOK_HUB_PORT=str(self.service_port),
            RT_NOTEBOOK_HUB_CONFIG=str(service_config),
            PYTHONPATH=str(REPO),
        )

    def start(self, timeout: float = 60.0) -> Hub:
        if self.process is None and not self.port:
            self.configure()
        self._log = self.log_path.open("ab")
        argv = [sys.executable, "-m", "jupyterhub", "-f", str(self.base / "jupyterhub_config.py")]
        self.process = launch(argv, cwd=self.base, env=self._env, log=self._log)
        wait_up(
            self.process, self._answers, what="jupyterhub", log_path=self.log_path, timeout=timeout
        )
        return self

    def _answers(self) -> bool:
        """The Hub's API is up, and so is the service (asking who an anonymous caller is)."""
        status, _ = self.api("GET", "/hub/api/", token=None, timeout=2)
        service, _ = request("GET", self.service_url + "api/me", timeout=2)
        return status == 200 and service == 401

    def stop(self) -> None:
        """SIGTERM the Hub, SIGKILL it if it hangs, and then anything it left behind."""
        process, self.process = self.process, None
        if process is None:
            return
        stop_group(process, grace=20, sweep=True)
        self._log.close()

    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = ADMIN_TOKEN,
        timeout: float = 20.0,
    ) -> tuple[int, Any]:
        return request(method, self.url + path, body, token=token, timeout=timeout)

    def add_users(self, names: list[str]) -> None:
        status, body = self.api("POST", "/hub/api/users", {"usernames": names})
        assert status in (201, 409), body

    def token_for(self, user: str, scopes: list[str] | None = None) -> str:
        """A new API token of ``user`` (by default the scopes of a user's server's token that
        concern the service: its access, and reading the user's own groups)."""
        if scopes is None:
            scopes = [f"access:services!service={SERVICE}", "read:users!user"]
        status, body = self.api(
            "POST", f"/hub/api/users/{user}/tokens", {"scopes": scopes, "note": "test"}
        )
        assert status == 201, body
        return str(body["token"])
