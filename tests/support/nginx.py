"""Running the shipped nginx config (deploy/nginx.conf) on loopback, as any user, for tests.

The config names the compose services (`gateway-1:8000`, ...) and nginx's image paths; a test copy
swaps in loopback upstreams and a loopback port, keeps pid, logs and temp files in a temp dir, and may
add directives to the proxied location. Everything else is the shipped config, unchanged.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY_NGINX_CONF = REPO / "deploy" / "nginx.conf"
DEBIAN_NGINX = "/usr/sbin/nginx"
_UPSTREAM_SERVERS = re.compile(r"^(\s*)server gateway-\d+:8000( [^;]*)?;\n", re.MULTILINE)
_LISTEN = re.compile(r"^(\s*)listen 8080;$", re.MULTILINE)
_PROXIED_LOCATION = re.compile(r"^(\s*)location / \{\n", re.MULTILINE)
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_binary() -> str:
    """Debian's nginx (installed by `make nginx`); skips the test without it, except in CI (fails)."""
    binary = shutil.which("nginx") or (DEBIAN_NGINX if Path(DEBIAN_NGINX).exists() else None)
    if binary is not None:
        return binary
    reason = "Debian's nginx is not installed (make nginx, or: sudo apt-get install nginx)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def loopback_config(workdir: Path, upstreams: list[str], port: int, location_extra: str = "") -> Path:
    """Write a copy of deploy/nginx.conf for loopback into `workdir`; return its path.

    Args:
        workdir: where the config, pid, logs and temp files go.
        upstreams: `host:port` of each replica (replacing the compose services, same parameters).
        port: the loopback port nginx listens on.
        location_extra: directives added to the proxied location (e.g. a header for the test).
    """
    text = DEPLOY_NGINX_CONF.read_text(encoding="utf-8")
    servers = _UPSTREAM_SERVERS.findall(text)
    assert servers, "deploy/nginx.conf has no `server gateway-N:8000` lines"
    indent, parameters = servers[0]
    replacement = "".join(f"{indent}server {address}{parameters};\n" for address in upstreams)
    text = _UPSTREAM_SERVERS.sub("", text, count=len(servers) - 1)
    text = _UPSTREAM_SERVERS.sub(lambda _: replacement, text, count=1)
    text, listens = _LISTEN.subn(rf"\1listen 127.0.0.1:{port};", text)
    assert listens == 1, "deploy/nginx.conf does not `listen 8080;` once"
    temp_paths = "".join(f"    {name}_temp_path {workdir / name};\n" for name in _TEMP_PATHS)
    text, https = re.subn(r"^http \{\n", lambda _: "http {\n" + temp_paths, text, flags=re.MULTILINE)
    assert https == 1
    text, locations = _PROXIED_LOCATION.subn(lambda m: m.group(0) + location_extra, text)
    assert locations == 1
    path = workdir / "nginx.conf"
    path.write_text(text, encoding="utf-8")
    return path


def nginx_command(binary: str, config: Path, *extra: str) -> list[str]:
    """The command line running `config` with pid and error log in its directory, in the foreground."""
    workdir = config.parent
    # As root, workers would run as `nobody`, which cannot enter a private temp dir: keep our user.
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    directives = f"daemon off; pid {workdir / 'nginx.pid'}; error_log {workdir / 'error.log'} notice; {user}"
    return [binary, "-p", str(workdir), "-c", str(config), "-g", directives, *extra]
