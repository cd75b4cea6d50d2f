#!/usr/bin/env python3
"""Side-by-side benchmark of ocirun, crun and runc (issue 6).

Run it through bench/run.sh, which builds ocirun, installs crun/runc if missing and enters a
private mount namespace without /sys/fs/cgroup/unified (crun 1.8.1 refuses this hybrid host
otherwise); every runtime runs in that same namespace.

One busybox bundle, one config (/bin/true, the default namespaces of `ocirun spec`, no terminal,
cgroup v1), each runtime with its own --root under a temporary directory. Every iteration visits
every runtime (round-robin, starting point rotated), and every measured command is preceded by
the same idle gap. This is a measurement, never a test assertion.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PR_SET_CHILD_SUBREAPER = 36
CG_PARENT = "ocirun-bench"
MiB = 1024 * 1024


# ---------------------------------------------------------------- process helpers

class Sample:
    """One command: wall time, CPU of its process tree, peak RSS of any process in it."""

    __slots__ = ("wall_ms", "cpu_ms", "rss_kib", "ok")

    def __init__(self, wall_ms=0.0, cpu_ms=0.0, rss_kib=0, ok=True):
        self.wall_ms, self.cpu_ms, self.rss_kib, self.ok = wall_ms, cpu_ms, rss_kib, ok

    def add(self, other):
        self.wall_ms += other.wall_ms
        self.cpu_ms += other.cpu_ms
        self.rss_kib = max(self.rss_kib, other.rss_kib)
        self.ok = self.ok and other.ok


def ru_cpu_ms(ru):
    return (ru.ru_utime + ru.ru_stime) * 1000.0


class SpawnServer:
    """bench/spawn.c, one per thread: spawns commands from a small process (see spawn.c)."""

    def __init__(self, binary):
        self.p = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def run(self, argv, errfile):
        assert all("\t" not in a and "\n" not in a for a in argv)
        self.p.stdin.write("\t".join([errfile] + list(argv)) + "\n")
        self.p.stdin.flush()
        status, wall_ns, ut, st, rss = (int(x) for x in self.p.stdout.readline().split())
        return status, wall_ns / 1e6, (ut + st) / 1000.0, rss

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def build_spawn(tmp):
    out = os.path.join(tmp, "spawn")
    src = os.path.join(HERE, "spawn.c")
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        sys.exit("bench.py: a C compiler is needed for bench/spawn.c")
    for extra in (["-static"], []):
        r = subprocess.run([cc, "-O2"] + extra + ["-o", out, src], capture_output=True, text=True)
        if r.returncode == 0:
            return out
    sys.exit("bench.py: cannot build spawn.c: " + r.stderr)


class Runner:
    def __init__(self, tmp):
        self.tmp = tmp
        self.errors = {}
        self.err_lock = threading.Lock()
        self.spawn_bin = build_spawn(tmp)
        self.local = threading.local()
        self.servers = []
        # The bench reaps whatever its runtimes orphan (a created container's init), so the
        # CPU and RSS of those processes count too.
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")

    def server(self):
        srv = getattr(self.local, "srv", None)
        if srv is None:
            srv = self.local.srv = SpawnServer(self.spawn_bin)
            with self.err_lock:
                self.servers.append(srv)
        return srv

    def close(self):
        for srv in self.servers:
            srv.close()
        self.servers = []

    def timed(self, argv, label, errfile=None):
        """Runs argv to completion; wall time from spawn to reap, rusage of its tree."""
        errfile = errfile or os.path.join(self.tmp, "err-%d" % threading.get_ident())
        status, wall_ms, cpu_ms, rss = self.server().run(argv, errfile)
        ok = status >= 0 and os.waitstatus_to_exitcode(status) == 0
        if not ok:
            self.note_error(label, argv, errfile, status)
        return Sample(wall_ms, cpu_ms, rss, ok)

    def reap_orphans(self, block_for=0.0):
        """Reaps exited orphans (we are a subreaper). With block_for > 0, waits up to that many
        seconds for at least one. Returns their summed Sample (wall time unused)."""
        s = Sample()
        deadline = time.monotonic() + block_for
        got = 0
        while True:
            try:
                pid, _, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                if got or time.monotonic() >= deadline:
                    break
                time.sleep(0.0005)
                continue
            got += 1
            s.cpu_ms += ru_cpu_ms(ru)
            s.rss_kib = max(s.rss_kib, ru.ru_maxrss)
        return s, got

    def note_error(self, label, argv, errfile, status):
        with self.err_lock:
            n = self.errors.get(label, 0)
            self.errors[label] = n + 1
            if n == 0:
                try:
                    msg = open(errfile).read().strip()[-2000:]
                except OSError:
                    msg = ""
                print("  ! %s failed (status %s): %s\n    %s" % (label, status, " ".join(argv), msg),
                      file=sys.stderr)


# ---------------------------------------------------------------- setup

def make_bundle(tmp, ocirun):
    dest = os.path.join(tmp, "bundle")
    subprocess.run([os.path.join(REPO, "bundles", "make-bundle.sh"), "--runtime", ocirun, dest],
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.realpath(dest)


def base_config(bundle):
    with open(os.path.join(bundle, "config.json")) as f:
        c = json.load(f)
    # crun 1.8.1 rejects ociVersion 1.2.0 ("unknown version specified"); 1.0.2 suits all three.
    c["ociVersion"] = "1.0.2"
    c["process"]["terminal"] = False
    c["process"]["args"] = ["/bin/true"]
    # Absolute, so per-slot bundle directories (config only) share one rootfs.
    c["root"]["path"] = os.path.join(bundle, "rootfs")
    return c


def variant_config(base, variant):
    c = json.loads(json.dumps(base))
    if variant == "seccomp":
        with open(os.path.join(HERE, "seccomp-default.json")) as f:
            c["linux"]["seccomp"] = json.load(f)
    elif variant == "memory":
        c["linux"].setdefault("resources", {})["memory"] = {"limit": 64 * MiB}
    return c


class Runtime:
    def __init__(self, name, path, tmp):
        self.name, self.path = name, path
        self.root = os.path.join(tmp, "root-" + name)
        os.makedirs(self.root, exist_ok=True)

    def argv(self, *args):
        return [self.path, "--root", self.root] + list(args)

    def version(self):
        try:
            out = subprocess.run([self.path, "--version"], capture_output=True, text=True, timeout=10)
            return out.stdout.strip().splitlines()[0] if out.stdout.strip() else out.stderr.strip()
        except Exception as e:  # noqa: BLE001 - informational only
            return "unknown (%s)" % e


class Bundles:
    """One config per (runtime, variant, slot), differing only in linux.cgroupsPath: an absolute
    path outside the bench's own cgroup, unique per concurrent slot."""

    def __init__(self, tmp, base):
        self.tmp, self.base, self.dirs = tmp, base, {}

    def get(self, rt, variant, slot=0):
        key = (rt, variant, slot)
        if key not in self.dirs:
            d = os.path.join(self.tmp, "b", "%s-%s-%d" % key)
            os.makedirs(d, exist_ok=True)
            c = variant_config(self.base, variant)
            c["linux"]["cgroupsPath"] = "/%s/%s-%s-%d" % ((CG_PARENT,) + key)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(c, f, indent=1)
            self.dirs[key] = d
        return self.dirs[key]


def cgroup_mounts():
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            sep = parts.index("-")
            if parts[sep + 1] in ("cgroup", "cgroup2"):
                out.append(parts[4])
    return out


def cleanup_cgroups():
    left = []
    for m in cgroup_mounts():
        top = os.path.join(m, CG_PARENT)
        if not os.path.isdir(top):
            continue
        for d in sorted(os.listdir(top)):
            p = os.path.join(top, d)
            if os.path.isdir(p):
                try:
                    os.rmdir(p)
                except OSError:
                    left.append(p)
        try:
            os.rmdir(top)
        except OSError:
            left.append(top)
    return left


def cleanup_containers(runner, runtimes):
    for rt in runtimes:
        try:
            out = subprocess.run(rt.argv("list", "-q"), capture_output=True, text=True, timeout=30)
            for cid in out.stdout.split():
                subprocess.run(rt.argv("delete", "--force", cid), capture_output=True, timeout=30)
        except Exception as e:  # noqa: BLE001
            print("cleanup of %s: %s" % (rt.name, e), file=sys.stderr)
    runner.reap_orphans()


# ---------------------------------------------------------------- measurements

def measure_run(runner, rt, bundle, cid, label):
    s = runner.timed(rt.argv("run", "--bundle", bundle, cid), label)
    o, _ = runner.reap_orphans()
    s.cpu_ms += o.cpu_ms
    s.rss_kib = max(s.rss_kib, o.rss_kib)
    return s


def wait_stopped(runner, rt, cid, timeout=10.0):
    """After start: the container's init was orphaned to us; reap it. Falls back to polling
    state if it is not our child. Returns the init's Sample."""
    o, got = runner.reap_orphans(block_for=timeout)
    if got:
        return o
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(rt.argv("state", cid), capture_output=True, text=True)
        try:
            if json.loads(out.stdout).get("status") == "stopped":
                break
        except ValueError:
            break
        time.sleep(0.002)
    return o


def measure_split(runner, rt, bundle, cid, label):
    c = runner.timed(rt.argv("create", "--bundle", bundle, cid), label + " create")
    if not c.ok:
        runner.timed(rt.argv("delete", "--force", cid), label + " cleanup")
        return None
    s = runner.timed(rt.argv("start", cid), label + " start")
    init = wait_stopped(runner, rt, cid)
    d = runner.timed(rt.argv("delete", cid), label + " delete")
    if not d.ok:
        runner.timed(rt.argv("delete", "--force", cid), label + " cleanup")
    if not (s.ok and d.ok):
        return None
    return {"create": c, "start": s, "init": init, "delete": d}


def measure_floor(runner, rootfs):
    argv = [shutil.which("unshare"), "--fork", "--pid", "--mount", "--uts", "--ipc", "--net",
            shutil.which("chroot"), rootfs, "/bin/true"]
    return runner.timed(argv, "kernel floor")


def measure_throughput(runner, rt, bundles, count, workers, tag):
    per = [count // workers + (1 if w < count % workers else 0) for w in range(workers)]
    failures = [0]

    def work(w):
        b = bundles.get(rt.name, "base", w)
        for j in range(per[w]):
            s = runner.timed(rt.argv("run", "--bundle", b, "%s-%s-w%d-%d" % (rt.name, tag, w, j)),
                             rt.name + " throughput run")
            if not s.ok:
                failures[0] += 1

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    t0 = time.perf_counter_ns()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t1 = time.perf_counter_ns()
    runner.reap_orphans()
    return (t1 - t0) / 1e9, count - failures[0]


DEBUG_RE = re.compile(r"debug: (create|start|delete|run) \S+: (.*), ([0-9.]+) ms\s*$")


def measure_debug_steps(runner, rt, bundle, cid):
    """ocirun --debug: per-step durations of create/start/delete."""
    steps = {}
    for cmd in (["create", "--bundle", bundle, cid], ["start", cid], None, ["delete", cid]):
        if cmd is None:
            wait_stopped(runner, rt, cid)
            continue
        errfile = os.path.join(runner.tmp, "debug.log")
        s = runner.timed([rt.path, "--root", rt.root, "--debug"] + cmd, "ocirun --debug " + cmd[0], errfile)
        steps["%s (whole command)" % cmd[0]] = s.wall_ms
        with open(errfile) as f:
            for line in f:
                m = DEBUG_RE.search(line)
                if m:
                    key = "%s: %s" % (m.group(1), m.group(2))
                    steps[key] = steps.get(key, 0.0) + float(m.group(3))
        if not s.ok:
            runner.timed(rt.argv("delete", "--force", cid), "cleanup")
            break
    return steps


# ---------------------------------------------------------------- statistics and report

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)


def summary(xs):
    if not xs:
        return None
    return {"n": len(xs), "median": pct(xs, 50), "p90": pct(xs, 90), "mean": statistics.fmean(xs),
            "min": min(xs), "max": max(xs)}


def fmt(v, digits=2):
    if v is None or v != v:
        return "-"
    return ("%%.%df" % digits) % v


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        if dirty:
            commit += "+dirty"
    except OSError:
        commit = "unknown"
    os_name = "unknown"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {"kernel": platform.release(), "os": os_name, "cpu": cpu, "cpus": os.cpu_count(),
            "loadavg_at_start": open("/proc/loadavg").read().split()[:3], "ocirun_commit": commit,
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", "-n", type=int, default=50, help="iterations per measurement (default 50)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 10 iterations")
    ap.add_argument("--runtimes", default="ocirun,crun,runc", help="comma-separated (default ocirun,crun,runc)")
    ap.add_argument("--ocirun", default=os.path.join(REPO, "build-bench", "ocirun"), help="ocirun binary")
    ap.add_argument("--ocirun-commit", default=None,
                    help="the commit the ocirun binary was built from (default: the repository's HEAD, "
                         "+dirty when the working tree differs)")
    ap.add_argument("--gap", type=float, default=0.15, help="idle gap before each measured command, s (0.15)")
    ap.add_argument("--throughput-containers", type=int, default=None,
                    help="containers per runtime for the throughput test (default: iterations)")
    ap.add_argument("--workers", type=int, default=2, help="concurrent workers for throughput (2)")
    ap.add_argument("--debug-steps", type=int, default=None,
                    help="iterations of ocirun --debug step timing (default: min(iterations, 20); 0 = off)")
    ap.add_argument("--json", default=os.path.join(HERE, "results.json"), help="results file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--tmpdir", default="/tmp",
                    help="where the temporary directory (bundle, every runtime's --root) goes (default /tmp, "
                         "the filesystem of the runtimes' default /run here; try /dev/shm for tmpfs)")
    args = ap.parse_args()
    n = 10 if args.quick else args.iterations
    tp_count = args.throughput_containers or max(n, 10)
    dbg_n = min(n, 20) if args.debug_steps is None else args.debug_steps

    if os.geteuid() != 0:
        sys.exit("bench.py: needs root")
    names = [x.strip() for x in args.runtimes.split(",") if x.strip()]
    paths = {}
    for name in names:
        p = os.path.realpath(args.ocirun) if name == "ocirun" else shutil.which(name)
        if not p or not os.access(p, os.X_OK):
            sys.exit("bench.py: runtime %s not found" % name)
        paths[name] = p
    if "crun" in names and os.path.ismount("/sys/fs/cgroup/unified"):
        print("warning: /sys/fs/cgroup/unified is mounted; crun 1.8.1 refuses this hybrid host "
              "(run through bench/run.sh)", file=sys.stderr)

    tmp = tempfile.mkdtemp(prefix="ocirun-bench.", dir=args.tmpdir)
    runner = Runner(tmp)
    runtimes = [Runtime(nm, paths[nm], tmp) for nm in names]
    ocirun_for_spec = paths.get("ocirun") or os.path.realpath(args.ocirun)
    bundle = make_bundle(tmp, ocirun_for_spec)
    rootfs = os.path.join(bundle, "rootfs")
    bundles = Bundles(tmp, base_config(bundle))
    variants = ["base", "seccomp", "memory"]

    info = machine_info()
    if args.ocirun_commit:
        info["ocirun_commit"] = args.ocirun_commit
    info["runtimes"] = {rt.name: {"path": rt.path, "version": rt.version()} for rt in runtimes}
    print("ocirun benchmark: %d iterations, gap %.0f ms, throughput %d containers x %d workers" %
          (n, args.gap * 1000, tp_count, args.workers))
    print("machine: %s, %s, %d CPUs, kernel %s, load %s" % (info["os"], info["cpu"], info["cpus"], info["kernel"],
                                                          " ".join(info["loadavg_at_start"])))
    print("ocirun commit: %s" % info["ocirun_commit"])
    for rt in runtimes:
        print("  %-6s %s (%s)" % (rt.name, rt.path, info["runtimes"][rt.name]["version"]))

    # samples[rt][metric] -> list
    S = {rt.name: {} for rt in runtimes}
    S["floor"] = {}
    S["harness"] = {}

    def put(who, metric, v):
        S[who].setdefault(metric, []).append(v)

    try:
        # Warm-up: page cache, cgroup parents, each runtime's first-run costs.
        for rt in runtimes:
            for v in variants:
                for w in range(args.workers):
                    measure_run(runner, rt, bundles.get(rt.name, v, w), "%s-warm-%s-%d" % (rt.name, v, w),
                                rt.name + " warm-up " + v)
        measure_floor(runner, rootfs)

        t_start = time.monotonic()
        for i in range(n):
            k = i % len(runtimes)
            order = runtimes[k:] + runtimes[:k]
            # The kernel floor and the harness's own spawn cost are pseudo-runtimes in the rotation.
            slots = ["floor"] + order if i % 2 == 0 else order + ["floor"]
            for who in slots:
                time.sleep(args.gap)
                if who == "floor":
                    s = measure_floor(runner, rootfs)
                    put("floor", "run_ms", s.wall_ms)
                    put("floor", "cpu_ms", s.cpu_ms)
                    time.sleep(args.gap)
                    s = runner.timed(["/bin/true"], "harness /bin/true")
                    put("harness", "run_ms", s.wall_ms)
                    continue
                s = measure_run(runner, who, bundles.get(who.name, "base"), "%s-run-%d" % (who.name, i),
                                who.name + " run")
                if s.ok:
                    put(who.name, "run_ms", s.wall_ms)
                    put(who.name, "run_cpu_ms", s.cpu_ms)
                    put(who.name, "run_rss_kib", s.rss_kib)
            for rt in order:
                time.sleep(args.gap)
                r = measure_split(runner, rt, bundles.get(rt.name, "base"), "%s-split-%d" % (rt.name, i),
                                  rt.name)
                if r:
                    for step in ("create", "start", "delete"):
                        put(rt.name, step + "_ms", r[step].wall_ms)
                        put(rt.name, step + "_cpu_ms", r[step].cpu_ms)
                    put(rt.name, "init_cpu_ms", r["init"].cpu_ms)
                    put(rt.name, "csd_ms", r["create"].wall_ms + r["start"].wall_ms + r["delete"].wall_ms)
                    put(rt.name, "csd_cpu_ms", sum(r[x].cpu_ms for x in ("create", "start", "init", "delete")))
                    put(rt.name, "csd_rss_kib", max(r[x].rss_kib for x in ("create", "start", "init", "delete")))
            for rt in order:
                time.sleep(args.gap)
                s = runner.timed(rt.argv("--version"), rt.name + " --version")
                put(rt.name, "version_ms", s.wall_ms)
                put(rt.name, "version_cpu_ms", s.cpu_ms)
                put(rt.name, "version_rss_kib", s.rss_kib)
            for v in ("seccomp", "memory"):
                for rt in order:
                    time.sleep(args.gap)
                    s = measure_run(runner, rt, bundles.get(rt.name, v), "%s-%s-%d" % (rt.name, v, i),
                                    "%s run (%s)" % (rt.name, v))
                    if s.ok:
                        put(rt.name, v + "_run_ms", s.wall_ms)
                        put(rt.name, v + "_cpu_ms", s.cpu_ms)
                        put(rt.name, v + "_rss_kib", s.rss_kib)
            if (i + 1) % max(1, n // 10) == 0 or i + 1 == n:
                el = time.monotonic() - t_start
                print("  iteration %d/%d (%.0f s)" % (i + 1, n, el), file=sys.stderr, flush=True)

        # Throughput: rounds of ~10 containers per runtime, interleaved, gap before each round.
        rounds = max(1, tp_count // 10)
        tp = {rt.name: [0.0, 0] for rt in runtimes}
        for r in range(rounds):
            cnt = tp_count // rounds + (1 if r < tp_count % rounds else 0)
            k = r % len(runtimes)
            for rt in runtimes[k:] + runtimes[:k]:
                time.sleep(args.gap)
                secs, ok = measure_throughput(runner, rt, bundles, cnt, args.workers, "tp%d" % r)
                tp[rt.name][0] += secs
                tp[rt.name][1] += ok
        print("  throughput done", file=sys.stderr, flush=True)

        # ocirun's own step timings (--debug), kept apart from the timed runs above.
        debug_steps = {}
        oci = next((rt for rt in runtimes if rt.name == "ocirun"), None)
        if oci and dbg_n > 0:
            for i in range(dbg_n):
                time.sleep(args.gap)
                steps = measure_debug_steps(runner, oci, bundles.get("ocirun", "base"), "ocirun-dbg-%d" % i)
                for key, v in steps.items():
                    debug_steps.setdefault(key, []).append(v)
    finally:
        cleanup_containers(runner, runtimes)
        runner.close()
        left = cleanup_cgroups()
        if left:
            print("warning: cgroups left behind: %s" % " ".join(left), file=sys.stderr)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept %s" % tmp, file=sys.stderr)

    # ---------------------------------------------------------------- report
    info["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    info["state_filesystem"] = subprocess.run(["stat", "-f", "-c", "%T", args.tmpdir], capture_output=True,
                                              text=True).stdout.strip()
    res = {"machine": info,
           "config": {"iterations": n, "gap_s": args.gap, "throughput_containers": tp_count,
                      "workers": args.workers, "runtimes": names,
                      "bundle": "busybox (bundles/make-bundle.sh), /bin/true, default namespaces, no terminal, "
                                "cgroup v1, cgroupsPath /%s/<runtime>-<variant>-<slot>" % CG_PARENT,
                      "seccomp_profile": "bench/seccomp-default.json", "memory_limit_bytes": 64 * MiB},
           "summary": {}, "samples": S, "errors": runner.errors}
    for who, metrics in S.items():
        res["summary"][who] = {m: summary(xs) for m, xs in metrics.items()}
    for name, (secs, ok) in tp.items():
        res["summary"][name]["throughput_per_s"] = ok / secs if secs > 0 else None
    if debug_steps:
        res["ocirun_debug_steps_ms"] = {k: summary(v) for k, v in debug_steps.items()}

    rows = [
        ("run /bin/true, median (ms)", "run_ms", "median", 1.0, "<=0.70"),
        ("run /bin/true, p90 (ms)", "run_ms", "p90", 1.0, ""),
        ("create, median (ms)", "create_ms", "median", 1.0, ""),
        ("start, median (ms)", "start_ms", "median", 1.0, ""),
        ("delete, median (ms)", "delete_ms", "median", 1.0, ""),
        ("create+start+delete, median (ms)", "csd_ms", "median", 1.0, ""),
        ("CPU per container, run (ms)", "run_cpu_ms", "median", 1.0, "<=0.70"),
        ("CPU per container, c+s+d (ms)", "csd_cpu_ms", "median", 1.0, ""),
        ("  of which create (ms)", "create_cpu_ms", "median", 1.0, ""),
        ("  of which container init (ms)", "init_cpu_ms", "median", 1.0, ""),
        ("  of which start (ms)", "start_cpu_ms", "median", 1.0, ""),
        ("  of which delete (ms)", "delete_cpu_ms", "median", 1.0, ""),
        ("peak RSS, run (MiB)", "run_rss_kib", "median", 1 / 1024, "<=1.00"),
        ("peak RSS, c+s+d (MiB)", "csd_rss_kib", "median", 1 / 1024, ""),
        ("throughput, %d workers (containers/s)" % args.workers, "throughput_per_s", None, 1.0, ">=1.40"),
        ("seccomp (%d names): run median (ms)" % 359, "seccomp_run_ms", "median", 1.0, ""),
        ("seccomp: run p90 (ms)", "seccomp_run_ms", "p90", 1.0, ""),
        ("seccomp: CPU per container (ms)", "seccomp_cpu_ms", "median", 1.0, ""),
        ("memory 64 MiB: run median (ms)", "memory_run_ms", "median", 1.0, ""),
        ("memory 64 MiB: run p90 (ms)", "memory_run_ms", "p90", 1.0, ""),
        ("memory 64 MiB: CPU per container (ms)", "memory_cpu_ms", "median", 1.0, ""),
        ("binary start-up: --version (ms)", "version_ms", "median", 1.0, ""),
        ("binary start-up: --version CPU (ms)", "version_cpu_ms", "median", 1.0, ""),
        ("binary start-up: --version RSS (MiB)", "version_rss_kib", "median", 1 / 1024, ""),
    ]
    try:
        with open(os.path.join(HERE, "seccomp-default.json")) as f:
            nsys = sum(len(r["names"]) for r in json.load(f)["syscalls"])
        rows[15] = ("seccomp (%d names): run median (ms)" % nsys,) + rows[15][1:]
    except (OSError, ValueError, KeyError):
        pass

    def val(who, metric, stat, scale):
        sm = res["summary"].get(who, {}).get(metric)
        if sm is None:
            return None
        return (sm[stat] if stat else sm) * scale

    cols = names
    ratio_to = [x for x in ("crun", "runc") if x in names and "ocirun" in names]
    hdr = "%-40s" % "metric" + "".join("%10s" % c for c in cols) + "".join("%13s" % ("ocirun/" + r) for r in ratio_to)
    if "crun" in ratio_to:
        hdr += "   goal(vs crun)"
    print()
    print(hdr)
    print("-" * len(hdr))
    res["table"] = []
    for label, metric, stat, scale, goal in rows:
        vals = {c: val(c, metric, stat, scale) for c in cols}
        line = "%-40s" % label + "".join("%10s" % fmt(vals[c]) for c in cols)
        row = {"metric": label, "values": vals, "ratios": {}}
        for r in ratio_to:
            a, b = vals.get("ocirun"), vals.get(r)
            ratio = a / b if a is not None and b else None
            row["ratios"]["ocirun/" + r] = ratio
            line += "%13s" % fmt(ratio)
        if goal and "crun" in ratio_to:
            ratio = row["ratios"].get("ocirun/crun")
            lim = float(goal[2:])
            met = ratio is not None and (ratio <= lim if goal.startswith("<=") else ratio >= lim)
            line += "   %s %s" % (goal, "met" if met else "NOT met")
            row["goal"] = goal
            row["goal_met"] = met
        print(line)
        res["table"].append(row)
    fl = res["summary"]["floor"].get("run_ms")
    hs = res["summary"]["harness"].get("run_ms")
    print("%-40s%10s  (unshare --fork --pid --mount --uts --ipc --net chroot ROOTFS /bin/true; p90 %s)" %
          ("kernel floor, median (ms)", fmt(fl and fl["median"]), fmt(fl and fl["p90"])))
    print("%-40s%10s  (spawn+reap of the host's /bin/true; included in every figure)" %
          ("harness overhead, median (ms)", fmt(hs and hs["median"])))
    if debug_steps:
        print("\nocirun --debug step timings (median of %d create/start/delete cycles, ms):" % dbg_n)
        for k, sm in res["ocirun_debug_steps_ms"].items():
            print("  %-55s %8s  (p90 %s)" % (k, fmt(sm["median"]), fmt(sm["p90"])))
    if runner.errors:
        print("\nerrors: %s" % ", ".join("%s x%d" % kv for kv in runner.errors.items()))

    with open(args.json, "w") as f:
        json.dump(res, f, indent=1)
    print("\nload average at start %s, at end %s; state on %s (%s)" % (
        " ".join(info["loadavg_at_start"]), " ".join(info["loadavg_at_end"]), args.tmpdir, info["state_filesystem"]))
    print("results: %s" % args.json)


if __name__ == "__main__":
    main()
