"""The deployment files in deploy/: parsed and checked, since Docker and Kubernetes cannot run here.

What is checked: the Dockerfile's stages, user, healthcheck and command; the compose services, their
health checks, resource limits and secrets; the Kubernetes objects and how they refer to each other;
that every Luthien variable the files set is a real setting; that probe and healthcheck paths answer
on a real server; that the shipped configs are valid Luthien configs; and `nginx -t` on the nginx
config (with loopback in place of the compose hostnames, which only resolve inside compose).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from luthien.config import load_config
from luthien.settings import Settings
from luthien.settings_docs import env_name
from tests.support.nginx import loopback_config, nginx_binary, nginx_command
from tests.support.servers import LuthienServer

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
SETTING_NAMES = frozenset(env_name(name, field) for name, field in Settings.model_fields.items())
GATEWAYS = ("gateway-1", "gateway-2")
SECRET_SETTINGS = frozenset(
    {"LUTHIEN_API_KEY", "LUTHIEN_ADMIN_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "LUTHIEN_DATABASE_URL"}
)
Manifest = dict[str, Any]


def is_luthien_variable(name: str) -> bool:
    return name.startswith("LUTHIEN_") or name in {"ANTHROPIC_API_KEY", "OPENAI_API_KEY"}


def seconds(duration: str) -> int:
    """`75s` or `1m15s` (compose durations) in seconds."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert duration, "an empty duration"
    assert parts is not None, f"not a duration: {duration!r}"
    return int(parts.group(1) or 0) * 60 + int(parts.group(2) or 0)


def env_file(path: Path) -> dict[str, str]:
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")
    ]
    return dict(line.split("=", 1) for line in lines)


# -- Dockerfile -------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    logical = re.sub(
        r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    )
    pairs = [line.split(None, 1) for line in logical.splitlines() if line.strip()]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def test_dockerfile_is_multi_stage_slim_non_root_with_a_healthcheck() -> None:
    instructions = dockerfile_instructions()
    stages = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    runtime = instructions[stages[-1] :]

    assert len(stages) >= 2
    assert all(re.match(r"python:\$\{PYTHON_VERSION\}-slim\b", instructions[i][1]) for i in stages)
    assert any(op == "COPY" and args.startswith("--from=build") for op, args in runtime)
    users = [args for op, args in runtime if op == "USER"]
    assert users, "the runtime stage must not run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    healthchecks = [args for op, args in runtime if op == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert "/health" in healthchecks[0]
    assert ("CMD", '["luthien", "serve"]') in runtime


def test_dockerfile_listens_on_every_interface_with_real_settings() -> None:
    env = " ".join(args for op, args in dockerfile_instructions() if op == "ENV")
    variables = dict(re.findall(r"(\w+)=(\S+)", env))

    assert variables["LUTHIEN_HOST"] == "0.0.0.0"
    assert {name for name in variables if is_luthien_variable(name)} <= SETTING_NAMES


def test_docker_context_holds_only_what_the_image_needs() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    copied = [
        args.split()[0] for op, args in dockerfile_instructions() if op == "COPY" and "--from" not in args
    ]

    assert "*" in ignore
    assert {f"!{source}" for source in ("pyproject.toml", "README.md", "src/")} <= set(ignore)
    assert copied == ["pyproject.toml", "src"]


# -- docker-compose.yaml ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_compose_runs_two_replicas_behind_nginx_with_postgres_and_redis(compose: dict[str, Any]) -> None:
    services: dict[str, Any] = compose["services"]

    assert set(services) == {"migrate", *GATEWAYS, "nginx", "postgres", "redis"}
    for name in GATEWAYS:
        gateway = services[name]
        assert gateway["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert gateway["environment"]["LUTHIEN_REDIS_URL"] == "redis://redis:6379/0"
        assert gateway["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert gateway["depends_on"]["redis"] == {"condition": "service_healthy"}
        assert "/health" in " ".join(gateway["healthcheck"]["test"])
    assert services["migrate"]["command"] == ["luthien", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["nginx"]["image"].startswith("nginx:")
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]


def test_every_long_running_compose_service_has_a_healthcheck_and_limits(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        limits = service["deploy"]["resources"]["limits"]
        assert float(limits["cpus"]) > 0, name
        assert re.fullmatch(r"\d+[mg]", limits["memory"]), name
        if name == "migrate":
            assert service["healthcheck"] == {"disable": True}
            continue
        test = service["healthcheck"]["test"]
        assert test[0] in {"CMD", "CMD-SHELL"}, name


def test_compose_gateways_get_secrets_from_the_env_file_and_real_settings(compose: dict[str, Any]) -> None:
    for name in (*GATEWAYS, "migrate"):
        service = compose["services"][name]
        environment: dict[str, str] = service["environment"]
        assert service["env_file"] == ["luthien.env"]
        assert set(environment) <= SETTING_NAMES
        assert not SECRET_SETTINGS & set(environment), f"{name}: secrets belong in luthien.env"
    example = env_file(DEPLOY / "luthien.env.example")
    assert set(example) == SECRET_SETTINGS
    assert compose["services"]["postgres"]["env_file"] == ["postgres.env"]
    assert set(env_file(DEPLOY / "postgres.env.example")) == {
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_DB",
    }


def test_compose_stops_gateways_after_their_shutdown_grace(compose: dict[str, Any]) -> None:
    for name in GATEWAYS:
        service = compose["services"][name]
        assert seconds(service["stop_grace_period"]) > int(service["environment"]["LUTHIEN_SHUTDOWN_GRACE_S"])


def test_compose_mounts_a_valid_luthien_config(compose: dict[str, Any]) -> None:
    for name in GATEWAYS:
        service = compose["services"][name]
        mount = f"./luthien.yaml:{service['environment']['LUTHIEN_CONFIG']}:ro"
        assert mount in service["volumes"]
    load_config(DEPLOY / "luthien.yaml")


# -- Kubernetes -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifests() -> dict[str, Manifest]:
    """The objects `kubectl apply -k deploy/kubernetes` creates, by kind."""
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))
    objects: dict[str, Manifest] = {}
    for resource in kustomization["resources"]:
        for document in yaml.safe_load_all((KUBERNETES / resource).read_text(encoding="utf-8")):
            assert document["kind"] not in objects
            objects[document["kind"]] = document
    return objects


def container(manifests: dict[str, Manifest]) -> Manifest:
    containers: list[Manifest] = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_kubernetes_objects_are_all_there(manifests: dict[str, Manifest]) -> None:
    assert set(manifests) == {
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    }
    assert manifests["PodDisruptionBudget"]["apiVersion"] == "policy/v1"
    assert manifests["HorizontalPodAutoscaler"]["apiVersion"] == "autoscaling/v2"


def test_kubernetes_objects_refer_to_each_other(manifests: dict[str, Manifest]) -> None:
    deployment = manifests["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    pod = deployment["spec"]["template"]["spec"]

    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert manifests["Service"]["spec"]["selector"].items() <= labels.items()
    assert manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = manifests["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["config"]["configMap"]["name"] == manifests["ConfigMap"]["metadata"]["name"]
    secret_refs = [source["secretRef"]["name"] for source in container(manifests)["envFrom"]]
    assert secret_refs == [manifests["Secret"]["metadata"]["name"]]
    port_names = {port["name"] for port in container(manifests)["ports"]}
    assert manifests["Service"]["spec"]["ports"][0]["targetPort"] in port_names


def test_kubernetes_scales_on_cpu_and_keeps_a_replica_through_disruptions(
    manifests: dict[str, Manifest],
) -> None:
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    (metric,) = hpa["metrics"]

    assert (metric["type"], metric["resource"]["name"]) == ("Resource", "cpu")
    assert hpa["minReplicas"] >= 2
    assert manifests["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    assert manifests["Deployment"]["spec"]["replicas"] >= 2
    resources = container(manifests)["resources"]
    assert resources["requests"]["cpu"]  # the HPA's utilization is relative to the request
    assert resources["limits"]["memory"]


def test_kubernetes_pod_runs_unprivileged_and_outlives_its_grace(manifests: dict[str, Manifest]) -> None:
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    env = {item["name"]: item["value"] for item in container(manifests)["env"]}
    security = container(manifests)["securityContext"]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    pre_stop = int(container(manifests)["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > int(env["LUTHIEN_SHUTDOWN_GRACE_S"]) + pre_stop
    assert env["LUTHIEN_HOST"] == "0.0.0.0"


def test_kubernetes_settings_are_real_and_secrets_are_in_the_secret(manifests: dict[str, Manifest]) -> None:
    env_names = {item["name"] for item in container(manifests)["env"]}
    secret = manifests["Secret"]["stringData"]

    assert env_names <= SETTING_NAMES
    assert not SECRET_SETTINGS & env_names
    assert set(secret) <= SETTING_NAMES
    assert set(secret) >= SECRET_SETTINGS
    assert all(not secret[name] for name in ("LUTHIEN_API_KEY", "LUTHIEN_ADMIN_KEY", "ANTHROPIC_API_KEY"))


def test_kubernetes_config_map_is_a_valid_luthien_config(
    manifests: dict[str, Manifest], tmp_path: Path
) -> None:
    mount = next(m for m in container(manifests)["volumeMounts"] if m["name"] == "config")
    env = {item["name"]: item["value"] for item in container(manifests)["env"]}
    config_path = Path(env["LUTHIEN_CONFIG"])
    assert config_path.parent == Path(mount["mountPath"])
    (tmp_path / config_path.name).write_text(
        manifests["ConfigMap"]["data"][config_path.name], encoding="utf-8"
    )

    load_config(tmp_path / config_path.name)


def test_kubernetes_migration_job_runs_db_upgrade_with_the_secret() -> None:
    job = yaml.safe_load((KUBERNETES / "migrate-job.yaml").read_text(encoding="utf-8"))
    (migrate,) = job["spec"]["template"]["spec"]["containers"]

    assert job["kind"] == "Job"
    assert migrate["args"] == ["luthien", "db", "upgrade"]
    assert migrate["envFrom"] == [{"secretRef": {"name": "luthien-secrets"}}]


# -- probe paths answer on a real server ------------------------------------------------------------


@pytest.fixture(scope="module")
def probed_paths(manifests: dict[str, Manifest]) -> dict[str, str]:
    probes = container(manifests)
    return {
        "readiness": probes["readinessProbe"]["httpGet"]["path"],
        "liveness": probes["livenessProbe"]["httpGet"]["path"],
    }


def test_probe_paths_are_the_apps_readiness_and_liveness(
    probed_paths: dict[str, str], luthien: LuthienServer
) -> None:
    ready = httpx.get(f"{luthien.base_url}{probed_paths['readiness']}")
    health = httpx.get(f"{luthien.base_url}{probed_paths['liveness']}")

    assert probed_paths == {"readiness": "/ready", "liveness": "/health"}
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}


# -- nginx ------------------------------------------------------------------------------------------


def test_nginx_config_is_valid_and_streaming_friendly(tmp_path: Path) -> None:
    binary = nginx_binary()
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    config = loopback_config(tmp_path, ["127.0.0.1:18001", "127.0.0.1:18002"], 18000)

    result = subprocess.run(nginx_command(binary, config, "-t"), capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
    assert re.findall(r"server (gateway-\d):8000", text) == list(GATEWAYS)
    for directive in (
        "proxy_buffering off;",
        "proxy_request_buffering off;",
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "keepalive 64;",
        "proxy_read_timeout 3600s;",
    ):
        assert directive in text
