"""deploy/k8s (Kustomize base), deploy/prometheus/alerts.yaml and the Grafana dashboard, checked
without a cluster: Kubernetes objects against the official schemas (kubernetes-validate, strict:
unknown fields fail), KEDA objects against the fields KEDA defines, every PromQL expression
through a PromQL parser, and every metric they name against the families Longhaul exports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import promql_parser
import pytest
import yaml

from longhaul.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.33.0"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kustomized() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [d for name in kustomization["resources"] for d in documents(K8S / name)]


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in kustomized() if d["kind"] == kind]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj["spec"]["template"]["spec"])


def test_manifests_are_generated_from_the_script() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/k8s_manifests.py")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(kustomization["resources"]) == on_disk


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_objects_follow_the_schemas(path: Path) -> None:
    for doc in documents(path):
        if doc["apiVersion"].startswith(("keda.sh/", "kustomize.config.k8s.io/")):
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_schema_check_can_fail() -> None:
    deployment = by_kind("Deployment")[0]
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 7
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


# The parts of KEDA's CRDs (keda.sh/v1alpha1) these manifests use, closed to unknown fields.
_TRIGGER = {
    "type": "object", "additionalProperties": False, "required": ["type", "metadata"],
    "properties": {
        "type": {"type": "string"}, "name": {"type": "string"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "authenticationRef": {"type": "object", "required": ["name"],
                              "properties": {"name": {"type": "string"}}},
    },
}  # fmt: skip
KEDA_SCHEMAS = {
    "ScaledObject": {
        "type": "object", "required": ["scaleTargetRef", "triggers"], "additionalProperties": False,
        "properties": {
            "scaleTargetRef": {"type": "object", "required": ["name"],
                               "properties": {"name": {"type": "string"}}},
            "minReplicaCount": {"type": "integer", "minimum": 0},
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "pollingInterval": {"type": "integer"}, "cooldownPeriod": {"type": "integer"},
            "triggers": {"type": "array", "minItems": 1, "items": _TRIGGER},
        },
    },
    "TriggerAuthentication": {
        "type": "object", "additionalProperties": False,
        "properties": {"secretTargetRef": {"type": "array", "items": {
            "type": "object", "required": ["parameter", "name", "key"],
            "additionalProperties": False,
            "properties": {k: {"type": "string"} for k in ("parameter", "name", "key")},
        }}},
    },
}  # fmt: skip


def test_keda_objects() -> None:
    keda = [d for d in kustomized() if d["apiVersion"] == "keda.sh/v1alpha1"]
    for obj in keda:
        jsonschema.validate(obj["spec"], KEDA_SCHEMAS[obj["kind"]])
    deployments = {d["metadata"]["name"]: d for d in by_kind("Deployment")}
    auth = {d["metadata"]["name"] for d in keda if d["kind"] == "TriggerAuthentication"}
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for d in keda if d["kind"] == "ScaledObject"}
    workers = {n for n in deployments if n.startswith("longhaul-worker-")}
    assert workers and set(scaled) == workers  # every worker class scales on its queues
    for name, obj in scaled.items():
        args = pod_spec(deployments[name])["containers"][0]["args"]
        queues = next(a.split("=", 1)[1] for a in args if a.startswith("--queues=")).split(",")
        triggers = obj["spec"]["triggers"]
        assert [t["metadata"]["listName"] for t in triggers] == queues, name
        assert all(t["type"] == "redis" and t["authenticationRef"]["name"] in auth
                   for t in triggers)  # fmt: skip


def test_every_process_runs_a_real_command() -> None:
    parser = build_parser()
    workloads = by_kind("Deployment") + by_kind("Job")
    names = {w["metadata"]["name"] for w in workloads}
    assert {"longhaul-api", "longhaul-beat", "longhaul-flower", "longhaul-migrate"} <= names
    assert len([n for n in names if n.startswith("longhaul-worker-")]) >= 3
    for workload in workloads:
        for c in pod_spec(workload)["containers"]:
            args = parser.parse_args(c["args"])
            assert callable(args.func), workload["metadata"]["name"]
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                command = c.get(probe, {}).get("exec", {}).get("command")
                if command:
                    assert command[0] == "longhaul" and callable(
                        parser.parse_args(command[1:]).func
                    )


def test_probes_security_and_secrets() -> None:
    for workload in by_kind("Deployment") + by_kind("Job"):
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] >= 1000, name
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"], name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], name
            if workload["kind"] == "Deployment":
                assert "livenessProbe" in c, name
            # Credentials only from the Secret: no literal value looks like one.
            assert {"secretRef": {"name": "longhaul"}} in c["envFrom"], name
            for env in c.get("env", []):
                assert not re.search(r"(KEY|SECRET|PASSWORD|_URL)$", env["name"]), (name, env)
    api = next(d for d in by_kind("Deployment") if d["metadata"]["name"] == "longhaul-api")
    container = pod_spec(api)["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    config = by_kind("ConfigMap")[0]["data"]
    assert not [k for k in config if re.search(r"(KEY|SECRET|PASSWORD)", k)]


def test_disruption_budgets_and_autoscaling() -> None:
    selectors = [json.dumps(p["spec"]["selector"], sort_keys=True)
                 for p in by_kind("PodDisruptionBudget")]  # fmt: skip
    for d in by_kind("Deployment"):
        if d["metadata"]["name"] in ("longhaul-beat", "longhaul-flower"):
            continue  # single replicas by design
        assert json.dumps(d["spec"]["selector"], sort_keys=True) in selectors, d["metadata"]
    [hpa] = by_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "longhaul-api"
    beat = next(d for d in by_kind("Deployment") if d["metadata"]["name"] == "longhaul-beat")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"


# --- metrics: alerts and dashboard --------------------------------------------------------------


def exported_families() -> set[str]:
    """The families docs/operations.md lists (the first column of its metrics table)."""
    text = (ROOT / "docs/operations.md").read_text()
    names = set()
    for cell in re.findall(r"^\| (`[^|]+`) \|", text, flags=re.M):
        names.update(re.findall(r"`([a-z_]+)`", cell))
    return names


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b((?:longhaul|http)_[a-z_]+)\b", expr))


def known(name: str, families: set[str]) -> bool:
    base = re.sub(r"_(bucket|count|sum)$", "", name)
    return name in families or base in families


def test_alert_rules_parse_and_name_real_metrics() -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yaml").read_text())
    families = exported_families()
    assert {"longhaul_job_phase_seconds", "http_requests_total"} <= families
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert len(alerts) >= 8
    names = [a["alert"] for a in alerts]
    assert len(names) == len(set(names))
    for alert in alerts:
        assert set(alert) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
        assert alert["labels"]["severity"] in ("warning", "critical")
        assert alert["annotations"]["summary"]
        promql_parser.parse(alert["expr"])  # ValueError on bad PromQL
        used = metric_names(alert["expr"])
        assert used and all(known(n, families) for n in used), (alert["alert"], used)
        if "for" in alert:
            assert re.fullmatch(r"\d+[smh]", alert["for"])
    with pytest.raises(ValueError):
        promql_parser.parse("sum(rate(longhaul_jobs[5m])")


def test_grafana_dashboard() -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/longhaul-dashboard.json").read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    [variable] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    families = exported_families()
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    covered = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == f"${{{variable['name']}}}"
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        for target in panel["targets"]:
            promql_parser.parse(target["expr"])
            used = metric_names(target["expr"])
            assert used and all(known(n, families) for n in used), (panel["title"], used)
            covered |= {re.sub(r"_(bucket|count|sum)$", "", n) for n in used}
    assert {"longhaul_job_phase_seconds", "longhaul_queue_depth", "longhaul_cost_usd_total",
            "longhaul_webhooks_pending", "http_requests_total"} <= covered  # fmt: skip
