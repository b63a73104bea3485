"""The deployment definitions of issue 17 against the layout the code expects: the Kubernetes
manifests validate against the Kubernetes API schemas (kubernetes-validate, strict, offline: the
schemas ship inside the package), and every definition (manifests, compose file, Procfile) runs
one worker per queue of settings.CELERY_QUEUES, exactly one beat, and probes paths that exist."""

import copy
import re
import shlex
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.conf import settings
from django.urls import resolve

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"  # the oldest release still supported upstream when this was written


def manifests() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def of_kind(kind: str) -> list[dict]:
    return [doc for doc in manifests() if doc["kind"] == kind]


def containers(doc: dict) -> list[dict]:
    return doc["spec"]["template"]["spec"]["containers"]


def queue_of_command(command: list[str]) -> str | None:
    return command[command.index("--queues") + 1] if "--queues" in command else None


@pytest.mark.parametrize("doc", manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_each_manifest_validates_against_the_kubernetes_schema(doc):
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_what_kubernetes_would():
    web = next(d for d in of_kind("Deployment") if d["metadata"]["name"] == "cardportal-web")
    misspelt = copy.deepcopy(web)
    containers(misspelt)[0]["readinesProbe"] = containers(misspelt)[0].pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSION, strict=True)
    wrong_type = copy.deepcopy(web)
    wrong_type["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, KUBERNETES_VERSION, strict=True)


def test_kubernetes_runs_one_worker_deployment_per_queue_and_exactly_one_beat():
    commands = [containers(d)[0]["command"] for d in of_kind("Deployment")]
    worker_queues = sorted(queue_of_command(c) for c in commands if "worker" in c)
    assert worker_queues == sorted(settings.CELERY_QUEUES)
    beats = [d for d in of_kind("Deployment") if "beat" in containers(d)[0]["command"]]
    assert len(beats) == 1
    assert beats[0]["spec"]["replicas"] == 1 and beats[0]["spec"]["strategy"]["type"] == "Recreate"
    assert not [
        h
        for h in of_kind("HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]["name"] == "cardportal-beat"
    ]


def test_the_web_deployment_scales_and_its_probes_reach_the_health_endpoints():
    (hpa,) = of_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "cardportal-web" and hpa["spec"]["minReplicas"] >= 2
    (web,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "cardportal-web"]
    container = containers(web)[0]
    probes = {name: container[name]["httpGet"]["path"] for name in ("livenessProbe", "readinessProbe")}
    assert probes == {"livenessProbe": "/health/live/", "readinessProbe": "/health/ready/web/"}
    for path in probes.values():
        resolve(path)  # a URL the portal answers
    host = container["readinessProbe"]["httpGet"]["httpHeaders"][0]["value"]
    config = next(d for d in of_kind("ConfigMap"))
    assert host in config["data"]["ALLOWED_HOSTS"].split(",")


def test_a_migration_job_runs_migrate_and_secrets_come_only_from_the_secret():
    (job,) = of_kind("Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == ["migrate", "--noinput"]
    secret_names = {"SECRET_KEY", "PII_KEYS", "PII_HASH_KEY", "DATABASE_URL", "REDIS_URL", "METRICS_TOKEN"}
    for doc in of_kind("Deployment") + of_kind("Job"):
        pod = doc["spec"]["template"]["spec"]
        for container in pod["containers"]:
            assert {"secretRef": {"name": "cardportal-secrets"}} in container["envFrom"]
            assert not secret_names & {e["name"] for e in container.get("env", [])}
    (config,) = of_kind("ConfigMap")
    assert not secret_names & set(config["data"]) and config["data"]["DEBUG"] == "0"


def test_the_compose_file_and_the_procfile_run_the_same_layout():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    worker_queues = sorted(
        queue_of_command(s["command"]) for s in services.values() if "worker" in s.get("command", [])
    )
    assert worker_queues == sorted(settings.CELERY_QUEUES)
    assert [n for n, s in services.items() if "beat" in s.get("command", [])] == ["beat"]
    assert services["web"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "/health/ready/" in " ".join(services["web"]["healthcheck"]["test"])

    procfile = dict(
        line.split(": ", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line and not line.startswith("#")
    )
    commands = [shlex.split(c) for c in procfile.values()]
    assert sorted(queue_of_command(c) for c in commands if "worker" in c) == sorted(settings.CELERY_QUEUES)
    assert len([c for c in commands if "beat" in c]) == 1
    assert re.match(r"gunicorn cardportal\.wsgi ", procfile["web"])
