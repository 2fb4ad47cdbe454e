"""Checks deploy/: every service directory has an env example, a systemd unit and a Kubernetes manifest that parse,
with the settings the README promises; prints {"services": [...], "problems": [...]} as JSON.

Usage: check_deploy.py DEPLOY_DIR VARIABLES_JSON, where VARIABLES_JSON maps each known service to the variables its
Configuration type declares. Directories that are not services: prometheus (checked as a scrape config)."""
import configparser
import json
import os
import re
import sys

import yaml

NOT_SERVICES = {"prometheus"}
DRAIN_SECONDS = 25  # ServiceRunner.defaultMaximumGracefulShutdownDuration
UNIT_REQUIRED = {
    "Service": {"ExecStart": None, "EnvironmentFile": None, "DynamicUser": "yes", "NoNewPrivileges": "yes",
                "ProtectSystem": "strict", "Restart": None},
    "Install": {"WantedBy": None},
}


def check_env(service, path, variables, problems):
    names = set()
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
            if match:
                names.add(match.group(1))
            elif line.strip() and not line.startswith("#"):
                problems.append(f"{path}:{number}: not NAME=value")
    for name in variables:
        if name not in names:
            problems.append(f"{path}: {name} (read by {service}) is not listed")
    for name in sorted(names):
        if name not in variables and not name.startswith("KAFKA_"):
            problems.append(f"{path}: {name} is not read by {service}")


def check_unit(service, path, problems):
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except configparser.Error as error:
        problems.append(f"{path}: does not parse: {error}")
        return
    for section in ("Unit", "Service", "Install"):
        if not parser.has_section(section):
            problems.append(f"{path}: no [{section}] section")
    for section, keys in UNIT_REQUIRED.items():
        for key, expected in keys.items():
            value = parser.get(section, key, fallback=None)
            if value is None:
                problems.append(f"{path}: [{section}] {key} missing")
            elif expected is not None and value != expected:
                problems.append(f"{path}: [{section}] {key}={value}, expected {expected}")
    exec_start = parser.get("Service", "ExecStart", fallback="")
    if not exec_start.endswith("/" + service):
        problems.append(f"{path}: ExecStart {exec_start!r} does not run {service}")
    stop = parser.get("Service", "TimeoutStopSec", fallback=None)
    if stop is None or int(stop) <= DRAIN_SECONDS:
        problems.append(f"{path}: TimeoutStopSec must exceed the {DRAIN_SECONDS} s drain")


def check_manifest(service, path, variables, problems):
    try:
        with open(path, encoding="utf-8") as handle:
            documents = [d for d in yaml.safe_load_all(handle) if d]
    except yaml.YAMLError as error:
        problems.append(f"{path}: does not parse: {error}")
        return
    kinds = {}
    for document in documents:
        kinds.setdefault(document.get("kind"), []).append(document)
    for kind in ("Deployment", "Service", "ConfigMap"):
        if kind not in kinds:
            problems.append(f"{path}: no {kind}")
    if service == "gateway" and "PodDisruptionBudget" not in kinds:
        problems.append(f"{path}: the gateway needs a PodDisruptionBudget")
    for config in kinds.get("ConfigMap", []):
        for key in (config.get("data") or {}):
            if key not in variables and not key.startswith("KAFKA_"):
                problems.append(f"{path}: ConfigMap key {key} is not read by {service}")
    for deployment in kinds.get("Deployment", []):
        pod = deployment["spec"]["template"]["spec"]
        grace = pod.get("terminationGracePeriodSeconds")
        if grace is None or grace <= DRAIN_SECONDS:
            problems.append(f"{path}: terminationGracePeriodSeconds must exceed the {DRAIN_SECONDS} s drain")
        for container in pod["containers"]:
            probes = {"livenessProbe": "/health", "readinessProbe": "/ready"}
            for probe, route in probes.items():
                got = ((container.get(probe) or {}).get("httpGet") or {}).get("path")
                if got != route:
                    problems.append(f"{path}: {container['name']} {probe} must GET {route} (has {got})")
            if not (container.get("resources") or {}).get("requests"):
                problems.append(f"{path}: {container['name']} has no resource requests")
            for entry in container.get("env") or []:
                if entry["name"] not in variables and not entry["name"].startswith("KAFKA_"):
                    problems.append(f"{path}: env {entry['name']} is not read by {service}")


def check_prometheus(path, problems):
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as error:
        problems.append(f"{path}: {error}")
        return
    jobs = config.get("scrape_configs") or []
    targets = [t for job in jobs for static in job.get("static_configs", []) for t in static.get("targets", [])]
    if not any(t.endswith(":9464") for t in targets):
        problems.append(f"{path}: no scrape target on the exporter's port 9464")
    if not all(job.get("honor_labels") for job in jobs):
        problems.append(f"{path}: jobs must honor_labels (the exporter's service/instance labels)")


def main():
    deploy, variables_file = sys.argv[1], sys.argv[2]
    with open(variables_file, encoding="utf-8") as handle:
        known = json.load(handle)
    problems = []
    services = []
    for name in sorted(os.listdir(deploy)):
        directory = os.path.join(deploy, name)
        if not os.path.isdir(directory) or name in NOT_SERVICES:
            continue
        services.append(name)
        if name not in known:
            problems.append(f"{directory}: no Configuration.environmentVariables registered for {name} in the test")
            continue
        for suffix, check in ((".env.example", None), (".service", None), (".yaml", None)):
            if not os.path.isfile(os.path.join(directory, name + suffix)):
                problems.append(f"{directory}: {name}{suffix} missing")
        base = os.path.join(directory, name)
        if os.path.isfile(base + ".env.example"):
            check_env(name, base + ".env.example", known[name], problems)
        if os.path.isfile(base + ".service"):
            check_unit(name, base + ".service", problems)
        if os.path.isfile(base + ".yaml"):
            check_manifest(name, base + ".yaml", known[name], problems)
    check_prometheus(os.path.join(deploy, "prometheus", "prometheus.yml"), problems)
    json.dump({"services": services, "problems": problems}, sys.stdout)


if __name__ == "__main__":
    main()
