"""The guestflow stack a benchmark runs: guestflow-emulator, guestflowd with
deploy/guestflowd.demo.yaml's contoso tenant against it, and the load
generator and CLI that drive them. Shared by bench/rpc, bench/intake and
bench/store.

Standard library of Debian's /usr/bin/python3 only.
"""

import json
import os
import urllib.error
import urllib.request

import benchlib
from benchlib import BenchError

TENANT = "contoso"
# The contoso tenant of emulator/fixtures/demo.yaml.
TENANT_ID = "6f0c1b1e-3b7a-4c55-9a53-2d1f6f6e0c01"
CLIENT_ID = "0b8f4c8e-7f4a-4f0f-9b1a-5c3d2e1f0a01"
CLIENT_SECRET = "contoso-emulator-secret"
ENVIRONMENT_ID = "5d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f01"
SECURITY_GROUP_ID = "3c1a9d4e-5b6f-4a7b-8c9d-0e1f2a3b4c01"
SKU = "DYN365_ENTERPRISE_PLAN1"
PLUGINS = ("azure_ad_invite.so", "graph_license.so", "dataverse_role.so", "outbox_notifier.so")
BINARIES = ("server/guestflowd", "client/guestflow", "emulator/guestflow-emulator",
            "bench/guestflow-bench-load") + tuple(f"plugins/{p}" for p in PLUGINS)


def missing_binaries(build, extra=()):
    """The binaries of `build` a benchmark needs that are not there."""
    return [os.path.join(build, rel) for rel in BINARIES + tuple(extra)
            if not os.access(os.path.join(build, rel), os.X_OK)]


def guestflowd_config(path, tmp, build, emulator_url, db=None, store_extra="", engine="",
                      comment="a benchmark"):
    """Writes a guestflowd config: plain text on a free loopback port, the
    Microsoft plugins and the outbox notifier for contoso against
    `emulator_url`, a SQLite store at `db` (default tmp/guestflow.db; extra
    keys of store.sqlite in `store_extra`, e.g. "group_commit: false"), the
    engine section `engine` (YAML flow mapping body, e.g. "workers: 8") and one
    admin caller with the local development token."""
    outbox = os.path.join(tmp, "outbox")
    os.makedirs(outbox, exist_ok=True)
    db = db or os.path.join(tmp, "guestflow.db")
    sqlite = f"path: {db}" + (f", {store_extra}" if store_extra else "")
    text = f"""# Written by {comment}: deploy/guestflowd.demo.yaml's contoso tenant against
# this run's emulator, a SQLite store, one caller.
server:
  listen: 127.0.0.1:0
  plaintext: true
  plugin_dir: {build}/plugins
  plugins: [{", ".join(PLUGINS)}]
  shutdown_grace: 10s
store:
  sqlite: {{{sqlite}}}
engine: {{{engine or "workers: 8"}}}
tenants:
  - id: {TENANT}
    display_name: Contoso Ltd
    azure:
      tenant_id: {TENANT_ID}
      client_id: {CLIENT_ID}
      client_secret: {{env: CONTOSO_CLIENT_SECRET}}
      authority_url: {emulator_url}
      graph_url: {emulator_url}
    dynamics:
      instance_url: {emulator_url}/orgs/contoso
      admin_url: {emulator_url}
      environment_id: {ENVIRONMENT_ID}
    onboarding:
      default_roles: [Salesperson]
      send_invitation_message: false
    plugins:
      invite: {{name: azure_ad_invite, settings: {{security_group_id: {SECURITY_GROUP_ID}, replication_poll_ms: 300}}}}
      license: {{name: graph_license, settings: {{sku: {SKU}, usage_location_retry_ms: 300}}}}
      role: {{name: dataverse_role, settings: {{license_poll_ms: 500, sync_poll_ms: 300}}}}
      notifier: {{name: outbox_notifier, settings: {{dir: {outbox}, from: dynamics-onboarding@contoso.example}}}}
callers:
  - name: bench
    role: admin
    tenants: ["*"]
    token_hash: {benchlib.DEV_TOKEN_HASH}
"""
    with open(path, "w") as f:
        f.write(text)


def http_json(url, body=None, timeout=30.0):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode())
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise BenchError(f"{url}: {e}") from e


class Stack:
    """The processes of one run and the commands that drive them; every
    process is stopped by stop_all() (or Processes' own order)."""

    def __init__(self, build, tmp, log_level="warn"):
        self.build = os.path.abspath(build)
        self.tmp = tmp
        self.log_level = log_level
        self.procs = benchlib.Processes()
        self.load_bin = os.path.join(self.build, "bench", "guestflow-bench-load")
        self.load_log = os.path.join(tmp, "load.stderr")

    def start(self, name, argv, env=None):
        """Starts a server that writes its port to --port-file; returns
        (process, "127.0.0.1:PORT")."""
        log_path = os.path.join(self.tmp, f"{name}.log")
        port_file = os.path.join(self.tmp, f"{name}.port")
        if os.path.exists(port_file):
            os.remove(port_file)
        proc = self.procs.start(name, argv + ["--port-file", port_file], log_path, env=env)
        port = benchlib.wait_for_file(port_file, proc, name, log_path, timeout=120.0)
        return proc, f"127.0.0.1:{port}"

    def start_emulator(self, fixture=None, knobs=None, name="emulator"):
        """guestflow-emulator on a free port, its knobs set; returns its
        base URL."""
        fixture = fixture or os.path.join(benchlib.REPO, "emulator", "fixtures", "demo.yaml")
        _, address = self.start(name, [
            os.path.join(self.build, "emulator", "guestflow-emulator"), "--fixture", fixture,
            "--listen", "127.0.0.1:0"])
        url = f"http://{address}"
        if knobs:
            http_json(f"{url}/_emulator/knobs", knobs)
        return url

    def start_guestflowd(self, name, config):
        """guestflowd with `config`; returns (process, address)."""
        env = dict(os.environ, CONTOSO_CLIENT_SECRET=CLIENT_SECRET)
        return self.start(name, [os.path.join(self.build, "server", "guestflowd"), "--config",
                                 config, "--log-level", self.log_level], env=env)

    def load(self, target, call_args, settings, timeout=None):
        """Runs guestflow-bench-load and returns its JSON report."""
        argv = [self.load_bin, "--target", target, "--token", benchlib.DEV_TOKEN] + settings + \
            call_args
        rc, out = benchlib.run_child(argv, timeout or 120, stderr_path=self.load_log)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if rc != 0 or not lines:
            raise BenchError(f"guestflow-bench-load exited {rc}: {' '.join(argv)}\n"
                             f"{benchlib.tail(self.load_log)}")
        return json.loads(lines[-1])

    def cli(self, address, *argv, timeout=120):
        env = dict(os.environ, GUESTFLOW_TOKEN=benchlib.DEV_TOKEN)
        return benchlib.run_child(
            [os.path.join(self.build, "client", "guestflow"), "--server", address, "--plaintext"]
            + list(argv), timeout, env=env, stderr_path=os.path.join(self.tmp, "cli.stderr"))

    def stop_all(self):
        self.procs.stop_all()
