#!/usr/bin/env bash
# Checks the deployment files without a cluster or a Docker engine (CI runs it from `make test`):
#   1. renders Deploy/kubernetes/base, the dev overlay, and the dev overlay with the user-models-pvc component
#      (`kubectl kustomize`; Debian's kubectl is installed with apt-get when missing),
#   2. validates every rendered object in strict mode (unknown fields are errors) against the OpenAPI schemas of
#      the Kubernetes versions in K8S_VERSIONS, with PyPI's kubernetes-validate in a cached virtualenv,
#   3. checks what a schema cannot: the wiring between the objects (Services select pods, volumes name objects that
#      exist, probes hit the health endpoints, the desired state's ConfigMap is mounted as a directory, ...),
#   4. checks Deploy/compose.yaml: valid YAML, the expected services, and every file or directory it mounts or
#      builds from exists; and its Prometheus configuration scrapes those services.
# Nothing here starts a container or talks to a cluster: rendering and schema validation only.
#
# Environment: K8S_VERSIONS (default "1.31 1.37": the oldest and the newest Kubernetes minor this claims),
# KUBECTL (default: kubectl on PATH), XDG_CACHE_HOME (the virtualenv lives in
# ${XDG_CACHE_HOME:-$HOME/.cache}/hedgerow-ci/k8s-venv and is reused while its pins match).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

K8S_VERSIONS=${K8S_VERSIONS:-"1.31 1.37"}
KUBERNETES_VALIDATE_VERSION=1.37.0   # ships the schemas of Kubernetes 1.25 to 1.37
PYYAML_VERSION=6.0.3
VENV="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/hedgerow-ci/k8s-venv"

say() { printf 'check-manifests: %s\n' "$*"; }
fail() { printf 'check-manifests: FAILED: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    say "installing $* with apt-get"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# --- kubectl ------------------------------------------------------------------------------------------------------
KUBECTL=${KUBECTL:-kubectl}
if ! command -v "$KUBECTL" >/dev/null 2>&1; then
    # Debian's kubectl: the package `kubectl` where an apt source provides it, else Debian's own `kubernetes-client`.
    as_root apt-get update -qq
    if [ -n "$(apt-cache policy kubectl 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" { print $2 }')" ]; then
        apt_install kubectl
    else
        apt_install kubernetes-client
    fi
    command -v "$KUBECTL" >/dev/null 2>&1 || fail "kubectl is still not on PATH after installing it"
fi
kustomize_version=$("$KUBECTL" version --client -o json 2>/dev/null \
    | python3 -c 'import json, sys; print(json.load(sys.stdin).get("kustomizeVersion", ""))' 2>/dev/null || true)
kustomize_major=$(printf '%s' "$kustomize_version" | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p')
if [ -z "$kustomize_major" ] || [ "$kustomize_major" -lt 4 ]; then
    fail "$(command -v "$KUBECTL") embeds kustomize '${kustomize_version:-unknown}'; these manifests need kustomize v4 or newer (kubectl 1.21+; checked with v5.5.0). Install a newer kubectl, or point KUBECTL at one."
fi

# --- virtualenv with kubernetes-validate and PyYAML ---------------------------------------------------------------
stamp="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION pyyaml==$PYYAML_VERSION"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.hedgerow-pins" 2>/dev/null)" = "$stamp" ] \
    && "$VENV/bin/python" -c 'import kubernetes_validate, yaml' 2>/dev/null; then
    say "reusing the virtualenv at $VENV"
else
    say "creating the virtualenv at $VENV ($stamp)"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        # Debian's python3 makes virtualenvs only with python3-venv.
        rm -rf "$VENV"
        apt_install python3-venv
        /usr/bin/python3 -m venv "$VENV" || fail "cannot create a virtualenv at $VENV"
    fi
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "pyyaml==$PYYAML_VERSION" \
        || fail "pip could not install $stamp"
    printf '%s' "$stamp" > "$VENV/.hedgerow-pins"
fi
PY="$VENV/bin/python"

# --- render -------------------------------------------------------------------------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

render() {   # render NAME DIR
    local name=$1 dir=$2
    if ! "$KUBECTL" kustomize "$dir" > "$work/$name.yaml" 2> "$work/$name.err"; then
        cat "$work/$name.err" >&2
        fail "kubectl kustomize $dir did not render"
    fi
    if [ -s "$work/$name.err" ]; then sed "s/^/  kustomize ($name): /" "$work/$name.err"; fi
}

render base Deploy/kubernetes/base
render dev Deploy/kubernetes/overlays/dev
# The PVC option exactly as a user takes it: the dev overlay with its commented `components:` lines uncommented, in a
# copy of the tree (kustomize refuses paths that leave a kustomization's directory, so no overlay of overlays here).
cp -R Deploy/kubernetes "$work/kubernetes"
sed -i -e 's|^# components:$|components:|' \
    -e 's|^#   - \.\./\.\./components/user-models-pvc$|  - ../../components/user-models-pvc|' \
    "$work/kubernetes/overlays/dev/kustomization.yaml"
grep -q '^  - \.\./\.\./components/user-models-pvc$' "$work/kubernetes/overlays/dev/kustomization.yaml" \
    || fail "Deploy/kubernetes/overlays/dev/kustomization.yaml no longer has the commented lines '# components:' and '#   - ../../components/user-models-pvc' this check uncomments"
render dev-user-models "$work/kubernetes/overlays/dev"

# --- schemas (strict) ---------------------------------------------------------------------------------------------
validated=0
for rendering in base dev dev-user-models; do
    args=()
    for v in $K8S_VERSIONS; do args+=(-k "$v"); done
    set +e
    "$VENV/bin/kubernetes-validate" --strict "${args[@]}" "$work/$rendering.yaml" > "$work/$rendering.validate" 2>&1
    rc=$?
    set -e
    # kubernetes-validate exits 0 on a WARN (e.g. no schema for a kind or apiVersion): any line but INFO fails here.
    if [ "$rc" != 0 ] || grep -qv '^INFO ' "$work/$rendering.validate"; then
        grep -v '^INFO ' "$work/$rendering.validate" | sed "s|$work/||" >&2 || true
        fail "$rendering: schema validation failed (kubernetes-validate --strict, Kubernetes $K8S_VERSIONS)"
    fi
    n=$(grep -c '^INFO ' "$work/$rendering.validate" || true)
    validated=$((validated + n))
done

# --- wiring, and compose ------------------------------------------------------------------------------------------
"$PY" - "$work" "$ROOT" "$K8S_VERSIONS" <<'PYTHON'
import collections, os, re, sys
import yaml

work, root, versions = sys.argv[1], sys.argv[2], sys.argv[3].split()
problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def load(name):
    with open(os.path.join(work, name + ".yaml")) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def pod_spec(obj):
    return obj["spec"]["template"]["spec"] if obj["kind"] in ("Deployment", "StatefulSet") else None


EXAMPLE_MODELS = {"digits", "digits-cnn", "encoder", "recommender"}
PORTS = {"hedgerow-synchronizer": 8600, "hedgerow-worker": 8701, "hedgerow-router": 8500}


def check_rendering(name, objects, image, secret_required, pvc_expected):
    where = name
    kinds = collections.Counter(o["kind"] for o in objects)
    by_kind_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    for o in objects:
        if o["kind"] != "Namespace" and o["metadata"].get("namespace") != "hedgerow":
            problem(where, f"{o['kind']}/{o['metadata']['name']} is not in namespace hedgerow")
    need = [("Namespace", "hedgerow"), ("ConfigMap", "hedgerow-desired-state"),
            ("Deployment", "hedgerow-synchronizer"), ("Service", "hedgerow-synchronizer"),
            ("StatefulSet", "hedgerow-worker"), ("Service", "hedgerow-worker"),
            ("Deployment", "hedgerow-router"), ("Service", "hedgerow-router"),
            ("PodDisruptionBudget", "hedgerow-router"), ("PodDisruptionBudget", "hedgerow-worker")]
    for key in need:
        if key not in by_kind_name:
            problem(where, f"missing {key[0]}/{key[1]}")
    if problems:
        return kinds
    secrets = [o for o in objects if o["kind"] == "Secret"]
    configmaps = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    secret_names = {o["metadata"]["name"] for o in secrets}
    pvcs = {o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"}
    if secret_required and not any(s.startswith("hedgerow-admin-token") for s in secret_names):
        problem(where, "no Secret hedgerow-admin-token(-<hash>) for the admin token")
    if pvc_expected and "hedgerow-models" not in pvcs:
        problem(where, "the user-models-pvc component did not add PersistentVolumeClaim hedgerow-models")
    if not pvc_expected and pvcs:
        problem(where, f"PersistentVolumeClaims {sorted(pvcs)} without the component: the base must not need a provisioner")

    # The desired state: one unhashed ConfigMap, an absolute repository, the four example models at latest: 1.
    text = by_kind_name[("ConfigMap", "hedgerow-desired-state")]["data"].get("desired-state.yaml", "")
    state = yaml.safe_load(text) or {}
    if not str(state.get("repository", "")).startswith("/"):
        problem(where, f"desired-state.yaml: repository must be absolute, got {state.get('repository')!r}")
    models = {m.get("name"): m for m in state.get("models", [])}
    if set(models) != EXAMPLE_MODELS:
        problem(where, f"desired-state.yaml serves {sorted(models)}, expected {sorted(EXAMPLE_MODELS)}")
    for m, spec in models.items():
        if spec.get("versions") != {"latest": 1}:
            problem(where, f"desired-state.yaml: {m} has versions {spec.get('versions')}, expected {{latest: 1}}")

    # Services select the pods of their workload, on a port the pods name.
    workloads = [o for o in objects if pod_spec(o) is not None]
    for svc in (o for o in objects if o["kind"] == "Service"):
        sel = svc["spec"].get("selector", {})
        matched = [w for w in workloads if sel and all(w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items())]
        if len(matched) != 1:
            problem(where, f"Service/{svc['metadata']['name']} selects {len(matched)} workloads, expected 1")
            continue
        names = {p.get("name") for c in pod_spec(matched[0])["containers"] for p in c.get("ports", [])}
        for p in svc["spec"]["ports"]:
            if isinstance(p.get("targetPort"), str) and p["targetPort"] not in names:
                problem(where, f"Service/{svc['metadata']['name']} targets port {p['targetPort']!r}, which its pods do not name")
    for pdb in (o for o in objects if o["kind"] == "PodDisruptionBudget"):
        sel = pdb["spec"]["selector"]["matchLabels"]
        if not any(all(w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items()) for w in workloads):
            problem(where, f"PodDisruptionBudget/{pdb['metadata']['name']} selects no pods")

    sync = by_kind_name[("Deployment", "hedgerow-synchronizer")]
    if sync["spec"].get("replicas") != 1 or sync["spec"].get("strategy", {}).get("type") != "Recreate":
        problem(where, "the synchronizer must be 1 replica with strategy Recreate")
    if by_kind_name[("Deployment", "hedgerow-router")]["spec"].get("replicas") != 2:
        problem(where, "the router Deployment should have 2 replicas")
    if by_kind_name[("Service", "hedgerow-worker")]["spec"].get("clusterIP") != "None":
        problem(where, "the workers' Service must be headless (clusterIP: None)")
    if by_kind_name[("Service", "hedgerow-router")]["spec"]["ports"][0]["port"] != 8500:
        problem(where, "the router's Service must serve port 8500")

    for w in workloads:
        wname = f"{w['kind']}/{w['metadata']['name']}"
        spec, meta = pod_spec(w), w["spec"]["template"]["metadata"]
        port = PORTS.get(w["metadata"]["name"])
        ann = meta.get("annotations", {})
        if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/path") != "/metrics" or ann.get("prometheus.io/port") != str(port):
            problem(where, f"{wname}: prometheus.io/scrape, port ({port}) and path (/metrics) annotations expected, got {ann}")
        psc = spec.get("securityContext", {})
        if not psc.get("runAsNonRoot") or not psc.get("runAsUser"):
            problem(where, f"{wname}: pod securityContext must set runAsNonRoot and runAsUser")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for v in volumes.values():
            if "configMap" in v and v["configMap"]["name"] not in configmaps:
                problem(where, f"{wname}: volume {v['name']} names ConfigMap {v['configMap']['name']}, which is not rendered")
            if "secret" in v and secret_required and v["secret"]["secretName"] not in secret_names:
                problem(where, f"{wname}: volume {v['name']} names Secret {v['secret']['secretName']}, which is not rendered")
            if "persistentVolumeClaim" in v and v["persistentVolumeClaim"]["claimName"] not in pvcs:
                problem(where, f"{wname}: volume {v['name']} names PVC {v['persistentVolumeClaim']['claimName']}, which is not rendered")
        for c in spec["containers"]:
            cname = f"{wname} container {c['name']}"
            if c.get("image") != image:
                problem(where, f"{cname}: image {c.get('image')!r}, expected {image!r}")
            for probe, path in (("readinessProbe", "/v2/health/ready"), ("livenessProbe", "/v2/health/live")):
                got = c.get(probe, {}).get("httpGet", {}).get("path")
                if got != path:
                    problem(where, f"{cname}: {probe} must GET {path}, got {got!r}")
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(res.get(part, {})):
                    problem(where, f"{cname}: resources.{part} must set cpu and memory")
            sc = c.get("securityContext", {})
            if sc.get("readOnlyRootFilesystem") is not True or sc.get("allowPrivilegeEscalation") is not False:
                problem(where, f"{cname}: readOnlyRootFilesystem: true and allowPrivilegeEscalation: false expected")
            mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
            for m in mounts.values():
                if m["name"] not in volumes:
                    problem(where, f"{cname}: mounts volume {m['name']}, which the pod does not declare")
                elif "configMap" in volumes[m["name"]] and "subPath" in m:
                    problem(where, f"{cname}: ConfigMap volume {m['name']} mounted with subPath (never updated): mount the directory")
            args = c.get("args", [])
            flags = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
            if args[:1] != [c["name"]]:
                problem(where, f"{cname}: args must start with the role {c['name']!r}, got {args[:1]}")
            if flags.get("listen") != f"0.0.0.0:{port}":
                problem(where, f"{cname}: --listen=0.0.0.0:{port} expected")
            for flag in ("admin-token-file", "desired", "routes-cache"):
                path = flags.get(flag)
                if path and not any(path.startswith(mp.rstrip("/") + "/") for mp in mounts):
                    problem(where, f"{cname}: --{flag}={path} is not under a mounted volume")
            if c["name"] == "worker":
                env = {e["name"]: e for e in c.get("env", [])}
                if env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.name" \
                        or env.get("POD_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "status.podIP":
                    problem(where, f"{cname}: POD_NAME and POD_IP must come from the downward API")
                if flags.get("name") != "$(POD_NAME)" or flags.get("advertise") != "$(POD_IP):8701":
                    problem(where, f"{cname}: --name=$(POD_NAME) and --advertise=$(POD_IP):8701 expected")
                if not flags.get("synchronizer", "").startswith("hedgerow-synchronizer:8600"):
                    problem(where, f"{cname}: --synchronizer must be the synchronizer's Service, hedgerow-synchronizer:8600")
                limit = res.get("limits", {}).get("memory", "")
                mib = int(limit[:-2]) if limit.endswith("Mi") else int(limit[:-2]) * 1024 if limit.endswith("Gi") else None
                offered = int(flags.get("memory-mb", "2048"))
                if mib is None or not (mib // 2 <= offered < mib):
                    problem(where, f"{cname}: --memory-mb={offered} must be below the memory limit {limit} by the process' overhead")
                if flags.get("repository") != state.get("repository"):
                    problem(where, f"{cname}: --repository={flags.get('repository')} differs from the desired state's {state.get('repository')}")
            if c["name"] == "synchronizer" and not flags.get("desired", "").endswith("/desired-state.yaml"):
                problem(where, f"{cname}: --desired must name the ConfigMap's desired-state.yaml")
            if c["name"] == "router" and not flags.get("synchronizer", "").startswith("hedgerow-synchronizer:8600"):
                problem(where, f"{cname}: --synchronizer must be hedgerow-synchronizer:8600")
    return kinds


summary = []
for name, image, secret_required, pvc in (("base", "hedgerow:latest", False, False),
                                          ("dev", "hedgerow:dev", True, False),
                                          ("dev-user-models", "hedgerow:dev", True, True)):
    objects = load(name)
    kinds = check_rendering(name, objects, image, secret_required, pvc)
    summary.append(f"  {name:16} {len(objects):2} objects: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))

# --- compose ---
compose_dir = os.path.join(root, "Deploy")
compose_file = os.path.join(compose_dir, "compose.yaml")
where = "Deploy/compose.yaml"
with open(compose_file) as f:
    compose = yaml.safe_load(f)
expected = {"synchronizer", "worker1", "worker2", "router", "prometheus", "grafana"}
services = compose.get("services") or {}
if set(services) != expected:
    problem(where, f"services are {sorted(services)}, expected {sorted(expected)}")
mounted = []


def must_exist(what, path, directory=None):
    full = os.path.normpath(os.path.join(compose_dir, path))
    mounted.append(os.path.relpath(full, root))
    if not os.path.exists(full):
        problem(where, f"{what}: {path} ({os.path.relpath(full, root)}) does not exist")
    elif directory is True and not os.path.isdir(full):
        problem(where, f"{what}: {path} is not a directory")
    elif directory is False and not os.path.isfile(full):
        problem(where, f"{what}: {path} is not a file")


named_volumes = set((compose.get("volumes") or {}).keys())
for sname, s in services.items():
    build = s.get("build")
    if build:
        context = build if isinstance(build, str) else build.get("context", ".")
        must_exist(f"{sname} build context", context, directory=True)
        if isinstance(build, dict):
            must_exist(f"{sname} Dockerfile", os.path.join(context, build.get("dockerfile", "Dockerfile")), directory=False)
    for v in s.get("volumes", []):
        if isinstance(v, str):
            source = v.split(":")[0]
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        else:
            source, kind = v.get("source"), v.get("type")
        if kind == "bind":
            must_exist(f"{sname} bind mount", source)
        elif kind == "volume" and source not in named_volumes:
            problem(where, f"{sname}: volume {source!r} is not declared under volumes:")
    for e in ([s["env_file"]] if isinstance(s.get("env_file"), str) else s.get("env_file", [])):
        must_exist(f"{sname} env_file", e if isinstance(e, str) else e["path"], directory=False)
    for ref in s.get("secrets", []):
        key = ref if isinstance(ref, str) else ref["source"]
        if key not in (compose.get("secrets") or {}):
            problem(where, f"{sname}: secret {key!r} is not declared under secrets:")
    for dep in (s.get("depends_on") or []):
        if dep not in services:
            problem(where, f"{sname}: depends on unknown service {dep!r}")
for section in ("secrets", "configs"):
    for key, spec in (compose.get(section) or {}).items():
        if "file" in spec:
            must_exist(f"{section[:-1]} {key}", spec["file"], directory=False)

# The Prometheus configuration compose mounts scrapes the compose services, each on the port it listens on.
prom_file = next((os.path.join(compose_dir, v["source"]) for v in services.get("prometheus", {}).get("volumes", [])
                  if isinstance(v, dict) and v.get("target") == "/etc/prometheus/prometheus.yml"), None)
if prom_file is None:
    problem(where, "prometheus does not mount a configuration at /etc/prometheus/prometheus.yml")
else:
    with open(prom_file) as f:
        prom = yaml.safe_load(f)
    targets = {t for job in prom.get("scrape_configs", []) for sc in job.get("static_configs", []) for t in sc.get("targets", [])}
    listen = {}
    for sname in ("synchronizer", "worker1", "worker2", "router"):
        flag = next((a for a in services.get(sname, {}).get("command", []) if a.startswith("--listen=")), "")
        listen[sname] = flag.rsplit(":", 1)[-1]
    wanted = {f"{s}:{p}" for s, p in listen.items()}
    if targets != wanted:
        problem(os.path.relpath(prom_file, root), f"scrape targets {sorted(targets)}, expected the compose services {sorted(wanted)}")
    for rule in prom.get("rule_files", []):
        target = os.path.join("/etc/prometheus", rule)
        if not any(isinstance(v, dict) and v.get("target") == target for v in services["prometheus"]["volumes"]):
            problem(os.path.relpath(prom_file, root), f"rule file {rule} is not mounted at {target}")

# Grafana expands $VAR and ${VAR} in its provisioning files, with no default: each one must be in its environment.
grafana = services.get("grafana", {})
genv = grafana.get("environment") or {}
genv = dict(e.split("=", 1) for e in genv) if isinstance(genv, list) else genv
for v in grafana.get("volumes", []):
    if isinstance(v, dict) and v.get("type") == "bind" and v.get("target", "").startswith("/etc/grafana/provisioning"):
        src = os.path.join(compose_dir, v["source"])
        files = [os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs] if os.path.isdir(src) else [src]
        for path in files:
            with open(path) as f:   # values only: Grafana expands what YAML parsed, so comments do not count
                text = "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in f)
                for var in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", text):
                    if var not in genv and not var.startswith("__"):
                        problem(where, f"grafana: {os.path.relpath(path, root)} uses ${{{var}}}, which grafana's environment does not set")

if problems:
    print("check-manifests: FAILED:", file=sys.stderr)
    for p in problems:
        print("  " + p, file=sys.stderr)
    sys.exit(1)
print("check-manifests: rendered and wired:")
print("\n".join(summary))
print(f"check-manifests: Deploy/compose.yaml: {len(services)} services ({', '.join(sorted(services))}); "
      f"{len(set(mounted))} mounted or built paths exist")
PYTHON

say "schema validation: $validated object validations passed (strict, Kubernetes ${K8S_VERSIONS// /, }; kubernetes-validate $KUBERNETES_VALIDATE_VERSION, kustomize $kustomize_version)"
say "OK"
