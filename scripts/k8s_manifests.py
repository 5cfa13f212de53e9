"""Write deploy/k8s/ (Kustomize base): API, a worker Deployment per work class, beat, the event
relay, Flower, the migrate Job, KEDA ScaledObjects on Redis queue length, an HPA for the API,
PodDisruptionBudgets.

    python scripts/k8s_manifests.py            # print what would change
    python scripts/k8s_manifests.py --write    # rewrite deploy/k8s/*.yaml

The manifests are plain YAML; this script only keeps the four worker classes alike. A test
checks the files match it and validates them against the Kubernetes schemas.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "deploy" / "k8s"
IMAGE = "longhaul:0.1.0"  # set yours with `kustomize edit set image longhaul=REGISTRY/longhaul:TAG`
APP = "longhaul"
SECRET = "longhaul"  # created by you: see secret.example.yaml
CONFIG = "longhaul-config"
WORKER_METRICS_PORT = 9808

# Work classes: which queues each worker Deployment consumes, its pool size and scaling.
WORK_CLASSES: dict[str, dict[str, Any]] = {
    "jobs": {
        "queues": ["submit", "poll"],
        "concurrency": 8,
        "max": 20,
        "per_pod": 40,
        "memory": "512Mi",
        "grace": 60,
    },
    "finalize": {
        "queues": ["finalize"],
        "concurrency": 2,
        "max": 10,
        "per_pod": 4,
        "memory": "1Gi",
        "grace": 120,
    },
    "webhooks": {  # attempts wait on receivers: threads, not processes
        "queues": ["webhooks"],
        "pool": "threads",
        "concurrency": 16,
        "max": 10,
        "per_pod": 40,
        "memory": "384Mi",
        "grace": 60,
    },
    "maintenance": {
        "queues": ["maintenance"],
        "concurrency": 2,
        "max": 3,
        "per_pod": 20,
        "memory": "384Mi",
        "grace": 60,
    },
}


def labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": component}


def meta(name: str, component: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "labels": labels(component), **extra}


POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def container(
    name: str, args: list[str], *, memory: str = "384Mi", cpu: str = "100m", **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "image": IMAGE,
        "args": args,
        "envFrom": [{"configMapRef": {"name": CONFIG}}, {"secretRef": {"name": SECRET}}],
        "resources": {
            "requests": {"cpu": cpu, "memory": memory},
            "limits": {"memory": memory},
        },
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        **extra,
    }


def pod(containers: list[dict[str, Any]], *, grace: int = 30, **extra: Any) -> dict[str, Any]:
    return {
        "serviceAccountName": APP,
        "automountServiceAccountToken": False,
        "securityContext": POD_SECURITY,
        "terminationGracePeriodSeconds": grace,
        "containers": containers,
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
        **extra,
    }


def deployment(
    name: str,
    component: str,
    spec: dict[str, Any],
    *,
    replicas: int = 1,
    scrape_port: int | None = None,
    strategy: dict[str, Any] | None = None,
) -> dict[str, Any]:
    annotations = (
        {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(scrape_port),
            "prometheus.io/path": "/metrics",
        }
        if scrape_port
        else {}
    )
    template_meta: dict[str, Any] = {"labels": labels(component)}
    if annotations:
        template_meta["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, component),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels(component)},
            **({"strategy": strategy} if strategy else {}),
            "template": {"metadata": template_meta, "spec": spec},
        },
    }


def http_probe(
    path: str, port: int | str, *, period: int = 10, failures: int = 3
) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def pdb(name: str, component: str, **budget: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(name, component),
        "spec": {"selector": {"matchLabels": labels(component)}, **budget},
    }


def service(name: str, component: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, component),
        "spec": {
            "selector": labels(component),
            "ports": [{"name": "http", "port": port, "targetPort": "http"}],
        },
    }


def api() -> list[dict[str, Any]]:
    c = container(
        "api",
        ["api", "--host", "0.0.0.0", "--port", "8000"],
        memory="512Mi",
        cpu="250m",
        ports=[{"name": "http", "containerPort": 8000}],
        startupProbe=http_probe("/healthz", "http", period=2, failures=30),
        readinessProbe=http_probe("/readyz", "http"),
        livenessProbe=http_probe("/healthz", "http", period=15),
    )
    return [
        deployment("longhaul-api", "api", pod([c]), replicas=2, scrape_port=8000),
        service("longhaul-api", "api", 8000),
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta("longhaul-api", "api"),
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "longhaul-api",
                },
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
            },
        },
        pdb("longhaul-api", "api", minAvailable=1),
    ]


def workers() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for klass, cfg in WORK_CLASSES.items():
        name = f"longhaul-worker-{klass}"
        component = f"worker-{klass}"
        args = [
            "worker",
            f"--queues={','.join(cfg['queues'])}",
            f"--concurrency={cfg['concurrency']}",
            *([f"--pool={cfg['pool']}"] if "pool" in cfg else []),
            "--hostname=%h",
        ]
        c = container(
            "worker",
            args,
            memory=cfg["memory"],
            cpu="200m",
            ports=[{"name": "metrics", "containerPort": WORKER_METRICS_PORT}],
            env=[{"name": "PROMETHEUS_MULTIPROC_DIR", "value": "/tmp/metrics"}],
            startupProbe=http_probe("/metrics", "metrics", period=5, failures=24),
            livenessProbe=http_probe("/metrics", "metrics", period=30),
        )
        # Soft shutdown lets running tasks finish; a task cut short is redelivered (acks late).
        spec = pod([c], grace=cfg["grace"])
        out.append(deployment(name, component, spec, scrape_port=WORKER_METRICS_PORT))
        out.append(pdb(name, component, maxUnavailable=1))
    return out


def keda() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": meta("longhaul-redis", "autoscaling"),
            "spec": {
                "secretTargetRef": [
                    {"parameter": "address", "name": SECRET, "key": "REDIS_ADDRESS"},
                    {"parameter": "password", "name": SECRET, "key": "REDIS_PASSWORD"},
                ]
            },
        },
    ]
    for klass, cfg in WORK_CLASSES.items():
        triggers = [
            {
                "type": "redis",
                "name": f"{queue}-queue",
                "metadata": {
                    "listName": queue,
                    "listLength": str(cfg["per_pod"]),
                    "activationListLength": "0",
                    "databaseIndex": "0",
                },
                "authenticationRef": {"name": "longhaul-redis"},
            }
            for queue in cfg["queues"]
        ]
        out.append(
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "metadata": meta(f"longhaul-worker-{klass}", f"worker-{klass}"),
                "spec": {
                    "scaleTargetRef": {"name": f"longhaul-worker-{klass}"},
                    "minReplicaCount": 1,  # one warm worker: beat's sweep keeps every queue moving
                    "maxReplicaCount": cfg["max"],
                    "pollingInterval": 15,
                    "cooldownPeriod": 300,
                    "triggers": triggers,
                },
            }
        )
    return out


def beat() -> list[dict[str, Any]]:
    check = {
        "exec": {"command": ["longhaul", "check", "beat"]},
        "periodSeconds": 60,
        "timeoutSeconds": 20,
        "failureThreshold": 3,
        "initialDelaySeconds": 60,
    }
    c = container("beat", ["beat"], memory="256Mi", cpu="50m", livenessProbe=check)
    # One scheduler; a second would wait on RedBeat's lock. Recreate: never two during a rollout.
    return [deployment("longhaul-beat", "beat", pod([c]), strategy={"type": "Recreate"})]


def relay() -> list[dict[str, Any]]:
    """The event relay of streaming jobs: replicas share the streams by lease."""
    check = {
        "exec": {"command": ["longhaul", "check", "database", "redis"]},
        "periodSeconds": 60,
        "timeoutSeconds": 20,
        "failureThreshold": 3,
        "initialDelaySeconds": 30,
    }
    c = container("relay", ["relay"], memory="384Mi", cpu="100m", livenessProbe=check)
    return [
        deployment("longhaul-relay", "relay", pod([c], grace=30), replicas=2),
        pdb("longhaul-relay", "relay", maxUnavailable=1),
    ]


def flower() -> list[dict[str, Any]]:
    c = container(
        "flower",
        ["flower", "--address", "0.0.0.0", "--port", "5555"],
        memory="512Mi",
        ports=[{"name": "http", "containerPort": 5555}],
        readinessProbe=http_probe("/healthcheck", "http"),
        livenessProbe=http_probe("/healthcheck", "http", period=30),
    )
    return [
        deployment("longhaul-flower", "flower", pod([c])),
        service("longhaul-flower", "flower", 5555),
    ]


def migrate() -> list[dict[str, Any]]:
    c = container("migrate", ["migrate"], memory="256Mi")
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta("longhaul-migrate", "migrate"),
            "spec": {
                "backoffLimit": 3,
                "ttlSecondsAfterFinished": 86400,
                "template": {
                    "metadata": {"labels": labels("migrate")},
                    "spec": pod([c], restartPolicy="OnFailure"),
                },
            },
        }
    ]


def common() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta(APP, "common"),
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(CONFIG, "common"),
            "data": {
                "LONGHAUL_API_HOST": "0.0.0.0",
                "LONGHAUL_LOG_FORMAT": "json",
                "LONGHAUL_STORAGE_URL": "s3://longhaul-artifacts/jobs",
                "LONGHAUL_WORKER_METRICS_PORT": str(WORKER_METRICS_PORT),
                "LONGHAUL_PUBLIC_URL": "https://longhaul.example.com",
            },
        },
    ]


def secret_example() -> list[dict[str, Any]]:
    keys = {
        "LONGHAUL_DATABASE_URL": "postgresql+psycopg://longhaul:CHANGE-ME@postgres:5432/longhaul",
        "LONGHAUL_REDIS_URL": "redis://:CHANGE-ME@redis:6379/0",
        "REDIS_ADDRESS": "redis:6379",
        "REDIS_PASSWORD": "CHANGE-ME",
        "LONGHAUL_OPENAI_API_KEY": "sk-CHANGE-ME",
        "LONGHAUL_OPENAI_WEBHOOK_SECRET": "whsec_CHANGE-ME",
        "LONGHAUL_S3_ACCESS_KEY_ID": "CHANGE-ME",
        "LONGHAUL_S3_SECRET_ACCESS_KEY": "CHANGE-ME",
        "LONGHAUL_ADMIN_API_KEY": "CHANGE-ME",
        "LONGHAUL_FLOWER_BASIC_AUTH": "admin:CHANGE-ME",
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta(SECRET, "common"),
            "type": "Opaque",
            "stringData": keys,
        }
    ]


FILES = {
    "common.yaml": common,
    "api.yaml": api,
    "workers.yaml": workers,
    "keda.yaml": keda,
    "beat.yaml": beat,
    "relay.yaml": relay,
    "flower.yaml": flower,
    "migrate.yaml": migrate,
}
HEADER = "# Generated by scripts/k8s_manifests.py: edit that, then run it with --write.\n"


def render() -> dict[str, str]:
    out = {
        name: HEADER + yaml.safe_dump_all(build(), sort_keys=False, width=100)
        for name, build in FILES.items()
    }
    out["secret.example.yaml"] = (
        "# Not part of the kustomization: create your own Secret named longhaul with these keys\n"
        "# (kubectl create secret generic longhaul --from-env-file=longhaul.env), or use an\n"
        "# external secrets operator. REDIS_ADDRESS/REDIS_PASSWORD are for KEDA's Redis scaler.\n"
        + yaml.safe_dump_all(secret_example(), sort_keys=False, width=100)
    )
    out["kustomization.yaml"] = HEADER + yaml.safe_dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": list(FILES),
            "images": [{"name": "longhaul", "newTag": IMAGE.split(":")[1]}],
        },
        sort_keys=False,
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    stale = [
        n for n, text in render().items() if not (OUT / n).exists() or (OUT / n).read_text() != text
    ]
    if args.write:
        OUT.mkdir(parents=True, exist_ok=True)
        for name, text in render().items():
            (OUT / name).write_text(text)
        return 0
    print("\n".join(stale) or "deploy/k8s is up to date")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
