#!/usr/bin/python3
"""Every file in deploy/ that is configuration is loaded or validated here, so
that none of them can rot:

- each guestflowd configuration (deploy/*.yaml, and the one inside the
  Kubernetes ConfigMap) passes `guestflowd --check-config`;
- the Kubernetes manifests agree with that configuration (ports, probes,
  Secrets for every {env: NAME}, mounts, grace period) and with what
  guestflowd needs to run safely (non-root, limits, read-only root);
- the Dockerfile's runtime stage installs the Debian package of every shared
  library the binaries and plugins it copies need, and runs as non-root;
- the systemd unit passes `systemd-analyze verify` with no complaint;
- docs/configuration.md mentions every key the config loader accepts.

Run by ctest (deploy_test) with GUESTFLOWD and GUESTFLOW_BUILD_DIR set.
"""

import os
import re
import shlex
import subprocess
import tempfile
import unittest

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "deploy")
GUESTFLOWD = os.environ.get("GUESTFLOWD", os.path.join(ROOT, "build/server/guestflowd"))
BUILD = os.environ.get("GUESTFLOW_BUILD_DIR", os.path.join(ROOT, "build"))


def check_config(path):
    return subprocess.run([GUESTFLOWD, "--config", path, "--check-config"],
                          capture_output=True, text=True)


def k8s_documents():
    docs = []
    for name in sorted(os.listdir(os.path.join(DEPLOY, "k8s"))):
        if name.endswith(".yaml"):
            with open(os.path.join(DEPLOY, "k8s", name)) as f:
                docs.extend((name, d) for d in yaml.safe_load_all(f) if d)
    return docs


def one(kind, name=None):
    found = [d for _, d in k8s_documents()
             if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def configmap_config():
    return one("ConfigMap", "guestflow-config")["data"]["guestflowd.yaml"]


def env_secret_names(config_text):
    """Every environment variable the configuration names for a secret."""
    config = yaml.safe_load(config_text)
    names = set()

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"env"}:
                names.add(node["env"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(config)
    postgres = config.get("store", {}).get("postgres")
    if postgres:
        names.add(postgres["dsn_env"])
    return names


class ConfigsTest(unittest.TestCase):
    def test_every_example_configuration_is_valid(self):
        configs = [os.path.join(DEPLOY, n) for n in os.listdir(DEPLOY) if n.endswith(".yaml")]
        self.assertGreaterEqual(len(configs), 2)
        for path in configs:
            result = check_config(path)
            self.assertEqual(result.returncode, 0, f"{path}: {result.stderr}")
            self.assertIn("valid", result.stdout)

    def test_the_configmap_configuration_is_valid(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(configmap_config())
            f.flush()
            result = check_config(f.name)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("TLS", result.stdout)

    def test_check_config_does_refuse_a_bad_one(self):
        # The check can fail: the ConfigMap's configuration with plain text
        # on every interface.
        text = configmap_config().replace("  tls:", "  plaintext: true\n  old_tls:", 1)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(text)
            f.flush()
            result = check_config(f.name)
        self.assertNotEqual(result.returncode, 0)


class KubernetesTest(unittest.TestCase):
    def setUp(self):
        self.deployment = one("Deployment", "guestflowd")
        self.pod = self.deployment["spec"]["template"]["spec"]
        self.container = self.pod["containers"][0]
        self.config = yaml.safe_load(configmap_config())

    def test_several_replicas_share_postgresql(self):
        self.assertGreaterEqual(self.deployment["spec"]["replicas"], 2)
        self.assertIn("postgres", self.config["store"])

    def test_ports_and_the_service_match_the_configuration(self):
        ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        self.assertEqual(ports["grpc"], int(self.config["server"]["listen"].rsplit(":", 1)[1]))
        self.assertEqual(ports["metrics"],
                         int(self.config["server"]["metrics_listen"].rsplit(":", 1)[1]))
        service = one("Service", "guestflowd")
        self.assertEqual(service["spec"]["selector"],
                         self.deployment["spec"]["selector"]["matchLabels"])
        self.assertEqual({p["targetPort"] for p in service["spec"]["ports"]}, {"grpc", "metrics"})

    def test_probes_use_the_grpc_health_service(self):
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            self.assertEqual(self.container[probe]["grpc"]["port"],
                             next(p["containerPort"] for p in self.container["ports"]
                                  if p["name"] == "grpc"), probe)

    def test_every_secret_the_configuration_names_comes_from_a_secret(self):
        secret = one("Secret", "guestflow-secrets")
        refs = [e["secretRef"]["name"] for e in self.container.get("envFrom", [])
                if "secretRef" in e]
        self.assertIn("guestflow-secrets", refs)
        self.assertEqual(env_secret_names(configmap_config()), set(secret["stringData"]))

    def test_config_and_certificates_are_mounted_where_the_configuration_looks(self):
        mounts = {m["mountPath"]: m for m in self.container["volumeMounts"]}
        args = self.container["args"]
        self.assertIn(args[args.index("--config") + 1], mounts)
        tls = self.config["server"]["tls"]
        tls_mount = mounts["/etc/guestflow/tls"]
        self.assertNotIn("subPath", tls_mount, "a subPath mount never sees a renewed certificate")
        for key in ("cert_file", "key_file", "client_ca_file"):
            self.assertTrue(tls[key].startswith("/etc/guestflow/tls/"), key)
        volume = next(v for v in self.pod["volumes"] if v["name"] == tls_mount["name"])
        self.assertEqual(volume["secret"]["defaultMode"] & 0o007, 0,
                         "guestflowd refuses a key file others may read")
        tls_secret = one("Secret", "guestflow-tls")
        for key in ("cert_file", "key_file", "client_ca_file"):
            self.assertIn(os.path.basename(tls[key]), tls_secret["stringData"])

    def test_the_pod_drains_before_it_is_killed(self):
        grace = self.config["server"].get("shutdown_grace", "30s")
        self.assertTrue(grace.endswith("s"))
        self.assertGreater(self.pod["terminationGracePeriodSeconds"], int(grace[:-1]))

    def test_it_runs_unprivileged_with_limits(self):
        self.assertTrue(self.pod["securityContext"]["runAsNonRoot"])
        self.assertNotEqual(self.pod["securityContext"]["runAsUser"], 0)
        sc = self.container["securityContext"]
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertIn("memory", self.container["resources"]["limits"])
        self.assertIn("cpu", self.container["resources"]["limits"])

    def test_kustomize_builds_the_manifests(self):
        result = subprocess.run(["kubectl", "kustomize", os.path.join(DEPLOY, "k8s")],
                                capture_output=True, text=True)
        if result.returncode == 127 or "not found" in result.stderr:
            self.skipTest("kubectl is not installed")
        self.assertEqual(result.returncode, 0, result.stderr)
        kinds = sorted(d["kind"] for d in yaml.safe_load_all(result.stdout) if d)
        self.assertEqual(kinds, ["ConfigMap", "Deployment", "Service"])


class DockerfileTest(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(DEPLOY, "docker", "Dockerfile")) as f:
            text = f.read()
        # Instructions, with continuation lines joined.
        self.lines = [line.strip() for line in
                      re.sub(r"\\\n\s*", " ", text).splitlines()
                      if line.strip() and not line.lstrip().startswith("#")]
        stages = [i for i, line in enumerate(self.lines) if line.startswith("FROM ")]
        self.assertEqual(len(stages), 2, "a build stage and a runtime stage")
        self.build = self.lines[stages[0]:stages[1]]
        self.runtime = self.lines[stages[1]:]

    def test_both_stages_are_debian_12(self):
        self.assertTrue(self.build[0].startswith("FROM debian:12 "))
        self.assertTrue(self.runtime[0].startswith("FROM debian:12-slim"))

    def test_it_runs_as_a_non_root_user(self):
        users = [line.split()[1] for line in self.runtime if line.startswith("USER ")]
        self.assertEqual(len(users), 1)
        self.assertNotIn(users[0].split(":")[0], ("0", "root"))
        entry = next(line for line in self.runtime if line.startswith("ENTRYPOINT "))
        self.assertIn("/usr/local/bin/guestflowd", entry)

    def copied(self):
        """Build-tree files the runtime stage copies, relative to build/."""
        files = []
        for line in self.runtime:
            if line.startswith("COPY --from=build "):
                sources = shlex.split(line)[2:-1]
                files += [s[len("/src/build/"):] for s in sources]
        return files

    def test_the_runtime_stage_installs_every_library_the_binaries_need(self):
        installs = " ".join(line for line in self.runtime if "apt-get install" in line)
        packages = set(installs.split())
        copied = self.copied()
        self.assertIn("server/guestflowd", copied)
        self.assertIn("proto/libguestflow_proto.so", copied)
        self.assertGreaterEqual(len([f for f in copied if f.startswith("plugins/")]), 7)
        needed = set()
        for rel in copied:
            path = os.path.join(BUILD, rel)
            self.assertTrue(os.path.exists(path), f"{rel} is not a build product")
            out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
            needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
        # In debian:12-slim already (libc6, libgcc-s1, libstdc++6), or copied.
        base = {"libc.so.6", "libm.so.6", "libgcc_s.so.1", "libstdc++.so.6",
                "libguestflow_proto.so", "ld-linux-x86-64.so.2"}
        ldconfig = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True).stdout
        missing = []
        for lib in sorted(needed - base):
            m = re.search(rf"^\s*{re.escape(lib)} \(libc6,x86-64\) => (\S+)$", ldconfig, re.M)
            self.assertIsNotNone(m, f"{lib}: not found by ldconfig")
            real = os.path.realpath(m.group(1))
            owner = subprocess.run(["dpkg", "-S", real], capture_output=True, text=True)
            if owner.returncode != 0:  # /lib is a symlink to /usr/lib on Debian 12
                owner = subprocess.run(["dpkg", "-S", real.replace("/usr/lib/", "/lib/", 1)],
                                       capture_output=True, text=True)
            package = owner.stdout.split(":")[0]
            if package not in packages:
                missing.append(f"{lib} ({package})")
        self.assertEqual(missing, [], "the runtime stage does not install these")


class ConfigReferenceTest(unittest.TestCase):
    def test_every_key_the_loader_accepts_is_documented(self):
        with open(os.path.join(ROOT, "server", "config", "config_loader.cc")) as f:
            loader = f.read()
        keys = set()
        for m in re.finditer(r'MapReader\s+\w+\((?:[^{;]|\n)*?\{((?:"[^"]*",?\s*)+)\}\)', loader):
            keys |= set(re.findall(r'"([^"]+)"', m.group(1)))
        self.assertGreater(len(keys), 60, "the key lists were not found in config_loader.cc")
        with open(os.path.join(ROOT, "docs", "configuration.md")) as f:
            doc = f.read()
        undocumented = sorted(k for k in keys if not re.search(rf"\b{re.escape(k)}\b", doc))
        self.assertEqual(undocumented, [], "docs/configuration.md does not mention these keys")


class SystemdTest(unittest.TestCase):
    def test_the_unit_verifies_cleanly(self):
        with open(os.path.join(DEPLOY, "systemd", "guestflowd.service")) as f:
            unit = f.read()
        self.assertIn("User=guestflow", unit)
        self.assertIn("NoNewPrivileges=yes", unit)
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", unit)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "guestflowd.service")
            with open(path, "w") as f:
                f.write(unit.replace("/usr/local/bin/guestflowd", os.path.abspath(GUESTFLOWD)))
            result = subprocess.run(["systemd-analyze", "verify", path],
                                    capture_output=True, text=True)
            if result.returncode == 127:
                self.skipTest("systemd-analyze is not installed")
            complaints = [line for line in (result.stdout + result.stderr).splitlines()
                          if "guestflowd.service" in line]
            self.assertEqual(complaints, [])
            # The check does complain about a mistake.
            with open(path, "w") as f:
                f.write(unit.replace("ProtectSystem=strict", "ProtectSystem=bogus"))
            result = subprocess.run(["systemd-analyze", "verify", path],
                                    capture_output=True, text=True)
            self.assertIn("protect system", result.stderr.lower())


if __name__ == "__main__":
    unittest.main(verbosity=2)
