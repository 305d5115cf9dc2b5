"""What the bench/ scripts share: starting and stopping processes, waiting
for their port files, reading their CPU time, and the machine they run on.

Standard library of Debian's /usr/bin/python3 only. bench/bulk predates this
module and keeps its own copies.
"""

import os
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The well-known local development token of deploy/guestflowd.demo.yaml
# (tests/support/test_callers.h kAdminToken), and its token_hash.
DEV_TOKEN = "gft_local-development-admin-0f3b6e2a"
DEV_TOKEN_HASH = ("sha256:5eed0f3b6e2a11d49c07a1b2c3d4e5f6:"
                  "88fbfbd478529bc284cc024ba201447d4305e745b23803065c86045056a13000")


class BenchError(Exception):
    """The benchmark itself broke (a process did not start, a call failed)."""


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP: stop what runs and exit 130."""


def logger(prog):
    def log(message):
        print(f"{prog}: {message}", file=sys.stderr, flush=True)
    return log


def raise_on_signals():
    """Turns SIGINT, SIGTERM and SIGHUP into Interrupted, so that the
    script's `finally` stops its children in order."""
    def on_signal(signum, frame):
        raise Interrupted()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)


def ignore_signals():
    """For the `finally` that cleans up: a second Ctrl-C does not cut it."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


class Processes:
    """Every process a run starts, stopped in reverse order by pid only
    (SIGTERM, then SIGKILL after a grace), whatever happens. Each child leads
    a session of its own, so a Ctrl-C on the terminal reaches the script
    only, which then stops them in order."""

    def __init__(self):
        self._procs = []  # (name, proc)

    def start(self, name, argv, log_path, env=None):
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self._procs.append((name, proc))
        return proc

    def stop(self, proc, grace=20.0):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        try:  # what is left of its group once the leader is gone
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._procs = [e for e in self._procs if e[1] is not proc]

    def stop_all(self):
        for _, proc in list(reversed(self._procs)):
            self.stop(proc)


def run_child(argv, timeout, env=None, stderr_path=None):
    """Runs a command to its end in a session of its own and returns
    (exit status, stdout text). On timeout or interrupt its group is killed."""
    err = open(stderr_path, "ab") if stderr_path else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=err, env=env, start_new_session=True)
    finally:
        if stderr_path:
            err.close()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        raise
    return proc.returncode, out.decode(errors="replace")


def tail(path, lines=20):
    if not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])


def wait_for_file(path, proc, name, log_path, timeout=30.0):
    """The text of a port file once it is written, or BenchError with the
    process's log when it exits (or the time runs out) before."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise BenchError(f"{name} did not start (exit {proc.poll()}); its log says:\n"
                     f"{tail(log_path)}")


def proc_cpu_seconds(pid):
    """utime + stime of a live process (all its threads), in seconds, or
    None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
        fields = text[text.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def proc_context_switches(pid):
    """Voluntary + involuntary context switches of a live process's threads
    (/proc/PID/task/*/status), or None. Threads that already ended are not
    counted."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:",
                                        "nonvoluntary_ctxt_switches:")):
                        total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total


def load_average():
    return os.getloadavg()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"
