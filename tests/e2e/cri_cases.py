#!/usr/bin/python3
"""The CRI cases of tests/e2e/cri_test.sh: containerd's CRI plugin driving an OCI runtime.

    cri_cases.py --socket SOCK --work DIR --cgroup-parent /NAME [--only REGEX]

The CRI messages come from the containerd binary itself: Go's protobuf packages keep each .proto
file's descriptor, gzipped, in the binary; the runtime.v1 one is read from there, so the client
speaks exactly the API the server was built with (Debian ships no CRI .proto), and the calls go
through python3-grpcio with no generated code.

Images (imported by cri_test.sh before): IMAGE runs busybox, PAUSE_IMAGE is the sandbox image.
Prints one "ok"/"FAIL" line per case, then "N passed, N failed"; exit status 1 when one failed.
"""
import argparse
import base64
import os
import re
import subprocess
import sys
import time
import traceback
import uuid
import zlib

import grpc
import websocket
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

IMAGE = "ocirun.test/cri-e2e/busybox:1"
GZIP_MAGIC = b"\x1f\x8b\x08"
CALL_DEADLINE = 60  # seconds, for any one CRI call
MAX_GZIP = 1 << 20  # bytes: more than any descriptor takes gzipped


def cri_descriptor(binary, package="runtime.v1"):
    """The FileDescriptorProto of the CRI api.proto compiled into BINARY."""
    data = open(binary, "rb").read()
    for m in re.finditer(re.escape(GZIP_MAGIC), data):
        try:  # a gzip member ends where its stream ends: what follows is ignored
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[m.start():m.start() + MAX_GZIP])
        except zlib.error:
            continue
        fd = descriptor_pb2.FileDescriptorProto()
        try:
            fd.ParseFromString(raw)
        except Exception:  # not a descriptor: some other gzipped blob
            continue
        if fd.package == package and any(s.name == "RuntimeService" for s in fd.service):
            # gogo.proto (options only) is not needed to encode messages: drop the import.
            del fd.dependency[:]
            return fd
    raise RuntimeError("no %s service descriptor in %s" % (package, binary))


class Cri:
    """RuntimeService/ImageService calls: cri.RunPodSandbox(config={...}) -> dict."""

    def __init__(self, socket, containerd_binary):
        fd = cri_descriptor(containerd_binary)
        pool = descriptor_pool.DescriptorPool()
        pool.Add(fd)
        factory = message_factory.MessageFactory(pool)
        self.channel = grpc.insecure_channel("unix://" + socket)
        self.methods = {}
        for service in fd.service:
            sdesc = pool.FindServiceByName("%s.%s" % (fd.package, service.name))
            for method in sdesc.methods:
                req, resp = factory.GetPrototype(method.input_type), factory.GetPrototype(method.output_type)
                call = self.channel.unary_unary("/%s/%s" % (sdesc.full_name, method.name),
                                                request_serializer=req.SerializeToString,
                                                response_deserializer=resp.FromString)
                self.methods[method.name] = (req, call)

    def __getattr__(self, name):
        req, call = self.methods[name]

        def invoke(**fields):
            msg = json_format.ParseDict(fields, req())
            return json_format.MessageToDict(call(msg, timeout=CALL_DEADLINE), preserving_proto_field_name=True,
                                             including_default_value_fields=True)
        return invoke


class Failed(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failed(what)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise Failed("%s: expected %r, got %r" % (what, expected, actual))


def wait_for(pred, seconds=20, what="condition"):
    deadline = time.time() + seconds
    while True:
        value = pred()
        if value:
            return value
        if time.time() > deadline:
            raise Failed("timed out waiting for " + what)
        time.sleep(0.1)


class Env:
    """What the cases share: the client, the work dir, and the pods to remove at the end."""

    def __init__(self, cri, work, cgroup_parent):
        self.cri, self.work, self.cgroup_parent = cri, work, cgroup_parent
        self.pods = []

    def pod(self, name, network="POD", pid="POD", ipc="POD", log_dir=None, privileged=False, **extra):
        """Runs a pod sandbox; returns (id, config)."""
        uid = uuid.uuid4().hex[:8]
        log_dir = log_dir or os.path.join(self.work, "logs", name + "-" + uid)
        os.makedirs(log_dir, exist_ok=True)
        config = {
            "metadata": {"name": name + "-" + uid, "uid": uid, "namespace": "cri-e2e", "attempt": 0},
            "log_directory": log_dir,
            "linux": {
                # As the kubelet's cgroupfs driver: a pod's cgroup, nested, made by the runtime here.
                "cgroup_parent": "%s/kubepods/besteffort/pod%s" % (self.cgroup_parent, uid),
                "security_context": {
                    "namespace_options": {"network": network, "pid": pid, "ipc": ipc},
                    "privileged": privileged,
                },
            },
        }
        if network != "NODE":  # as the kubelet: a host-network pod keeps the host's name
            config["hostname"] = name
        config.update(extra)
        pod_id = self.cri.RunPodSandbox(config=config)["pod_sandbox_id"]
        self.pods.append(pod_id)
        return pod_id, config

    def container(self, pod, name, command, start=True, security=None, mounts=None, linux_resources=None,
                  **extra):
        """Creates (and starts) a container of IMAGE in POD=(id, config); returns its id."""
        pod_id, pod_config = pod
        # As the kubelet does: the container's namespace modes are the pod's.
        security = dict(security or {})
        security.setdefault("namespace_options", pod_config["linux"]["security_context"]["namespace_options"])
        config = {
            "metadata": {"name": name, "attempt": 0},
            "image": {"image": IMAGE},
            "command": command,
            "log_path": name + ".log",
            "linux": {"security_context": security, "resources": linux_resources or {}},
            "mounts": mounts or [],
        }
        config.update(extra)
        cid = self.cri.CreateContainer(pod_sandbox_id=pod_id, config=config, sandbox_config=pod_config)["container_id"]
        if start:
            self.cri.StartContainer(container_id=cid)
        return cid

    def status(self, cid):
        return self.cri.ContainerStatus(container_id=cid)["status"]

    def wait_state(self, cid, state, seconds=20):
        return wait_for(lambda: self.status(cid)["state"] == state and self.status(cid), seconds,
                        "container %s to be %s" % (cid[:12], state))

    def exec(self, cid, *cmd, timeout=20):
        """ExecSync; returns (exit_code, stdout, stderr) as text."""
        r = self.cri.ExecSync(container_id=cid, cmd=list(cmd), timeout=timeout)
        return (r["exit_code"], _b64(r["stdout"]), _b64(r["stderr"]))

    def out(self, cid, *cmd):
        """ExecSync that must succeed; returns its stdout."""
        code, out, err = self.exec(cid, *cmd)
        expect(code == 0, "exec %s: exit %d, stderr %r" % (" ".join(cmd), code, err))
        return out

    def remove_pods(self):
        for pod_id in self.pods:
            for call in (self.cri.StopPodSandbox, self.cri.RemovePodSandbox):
                try:
                    call(pod_sandbox_id=pod_id)
                except grpc.RpcError as e:
                    print("cleanup: %s %s: %s" % (call, pod_id[:12], e.details()))
        self.pods = []


def _b64(field):
    """A bytes field as MessageToDict gives it (base64), as text."""
    return base64.b64decode(field).decode(errors="replace")


# ---- Cases -----------------------------------------------------------------------------------

def case_runtime_ready(env):
    v = env.cri.Version(version="v1")
    expect_eq(v["runtime_name"], "containerd", "runtime name")
    conds = {c["type"]: c["status"] for c in env.cri.Status()["status"]["conditions"]}
    expect_eq(conds, {"RuntimeReady": True, "NetworkReady": True}, "conditions")


def case_pod_shared_pid(env):
    pod = env.pod("shared-pid", pid="POD")
    st = env.cri.PodSandboxStatus(pod_sandbox_id=pod[0])["status"]
    expect_eq(st["state"], "SANDBOX_READY", "sandbox state")
    expect(re.match(r"^\d+\.\d+\.\d+\.\d+$", st["network"]["ip"]), "pod ip: %r" % st["network"]["ip"])
    a = env.container(pod, "a", ["sleep", "1000"])
    b = env.container(pod, "b", ["sh", "-c", "sleep 2000"])
    # PID 1 of the pod is the sandbox's pause process; each container sees the other's processes.
    expect("/pause" in env.out(a, "cat", "/proc/1/cmdline").split("\0"), "pid 1 of the pod is the pause script")
    wait_for(lambda: "sleep 2000" in env.out(a, "ps", "-o", "args"), 10, "b's sleep seen from a")
    expect("sleep 1000" in env.out(b, "ps", "-o", "args"), "a's sleep seen from b")
    # Same pid namespace, same network namespace (one IP), own mount namespaces.
    expect_eq(env.out(a, "readlink", "/proc/self/ns/pid"), env.out(b, "readlink", "/proc/self/ns/pid"), "pid ns")
    expect_eq(env.out(a, "readlink", "/proc/self/ns/net"), env.out(b, "readlink", "/proc/self/ns/net"), "net ns")
    expect(env.out(a, "readlink", "/proc/self/ns/mnt") != env.out(b, "readlink", "/proc/self/ns/mnt"), "mnt ns differ")
    expect_eq(env.out(a, "hostname").strip(), "shared-pid", "hostname")


def case_target_pid(env):
    """`kubectl debug --target`: a container joins another container's own pid namespace."""
    pod = env.pod("target-pid", pid="CONTAINER")
    target = env.container(pod, "target", ["sleep", "1001"])
    debug = env.container(pod, "debug", ["sleep", "1002"], security={
        "namespace_options": {"network": "POD", "ipc": "POD", "pid": "TARGET", "target_id": target}})
    expect_eq(env.out(debug, "cat", "/proc/1/cmdline").split("\0")[:2], ["sleep", "1001"], "pid 1 seen by debug")
    expect_eq(env.out(debug, "readlink", "/proc/self/ns/pid"), env.out(target, "readlink", "/proc/self/ns/pid"),
              "pid ns")
    expect("sleep 1002" not in env.out(env.container(pod, "other", ["sleep", "1003"]), "ps", "-o", "args"),
           "a third container has its own pid namespace")


def case_container_lifecycle(env):
    pod = env.pod("lifecycle", pid="CONTAINER")
    cid = env.container(pod, "c", ["sleep", "1000"], start=False)
    expect_eq(env.status(cid)["state"], "CONTAINER_CREATED", "state after create")
    env.cri.StartContainer(container_id=cid)
    st = env.wait_state(cid, "CONTAINER_RUNNING")
    expect(int(st["started_at"]) > 0, "started_at set")
    # Own pid namespace (CONTAINER): sleep is PID 1.
    expect_eq(env.out(cid, "cat", "/proc/1/cmdline").split("\0")[0], "sleep", "pid 1")
    code, out, err = env.exec(cid, "sh", "-c", "echo out; echo err >&2; exit 3")
    expect_eq((code, out, err), (3, "out\n", "err\n"), "ExecSync exit code and streams")
    try:  # the runtime's exec fails: containerd passes its words on, which the kubelet shows
        env.exec(cid, "/nonexistent")
        raise Failed("ExecSync of /nonexistent returned")
    except grpc.RpcError as e:
        expect('"/nonexistent"' in e.details() and "no such file or directory" in e.details(),
               "error of ExecSync /nonexistent: %s" % e.details())
    # ExecSync with a timeout: the call fails and the exec'd process is gone afterwards.
    try:
        env.exec(cid, "sleep", "4321", timeout=1)
        raise Failed("ExecSync of sleep 4321 with timeout 1 s returned")
    except grpc.RpcError as e:
        expect_eq(e.code(), grpc.StatusCode.DEADLINE_EXCEEDED, "timed-out ExecSync")
    wait_for(lambda: "4321" not in env.out(cid, "ps", "-o", "args"), 10, "the timed-out exec to be killed")
    stats = env.cri.ContainerStats(container_id=cid)["stats"]
    expect(int(stats["memory"]["working_set_bytes"]["value"]) > 0, "memory stats: %r" % stats["memory"])
    env.cri.StopContainer(container_id=cid, timeout=2)
    st = env.wait_state(cid, "CONTAINER_EXITED")
    # sleep is PID 1 of its own namespace: SIGTERM is ignored, the stop timeout ends in SIGKILL.
    expect_eq(st["exit_code"], 137, "exit code after stop")
    expect(int(st["finished_at"]) >= int(st["started_at"]), "finished_at")
    env.cri.RemoveContainer(container_id=cid)
    left = [c["id"] for c in env.cri.ListContainers()["containers"]]
    expect(cid not in left, "container listed after remove")


def case_exit_code(env):
    pod = env.pod("exit-code")
    cid = env.container(pod, "c", ["sh", "-c", "exit 7"])
    st = env.wait_state(cid, "CONTAINER_EXITED")
    expect_eq((st["exit_code"], st["reason"]), (7, "Error"), "exit code and reason")
    cid = env.container(pod, "d", ["true"])
    st = env.wait_state(cid, "CONTAINER_EXITED")
    expect_eq((st["exit_code"], st["reason"]), (0, "Completed"), "exit code and reason of true")


def log_lines(path):
    """The (stream, tag, text) of each line of a CRI log file."""
    if not os.path.exists(path):
        return []
    lines = []
    for line in open(path, errors="replace").read().splitlines():
        m = re.match(r"^(\S+) (stdout|stderr) ([FP]) (.*)$", line)
        if not m:
            raise Failed("not a CRI log line: %r" % line)
        lines.append((m.group(2), m.group(3), m.group(4)))
    return lines


def case_start_error(env):
    """A container whose program is missing: StartContainer fails with the runtime's words, and the
    status says StartError (what `kubectl describe` shows)."""
    pod = env.pod("start-error")
    cid = env.container(pod, "c", ["/nonexistent"], start=False)
    try:
        env.cri.StartContainer(container_id=cid)
        raise Failed("StartContainer of /nonexistent returned")
    except grpc.RpcError as e:
        expect('exec: "/nonexistent"' in e.details() and "no such file or directory" in e.details(),
               "StartContainer's error: %s" % e.details())
    st = env.status(cid)
    expect_eq((st["state"], st["reason"], st["exit_code"]), ("CONTAINER_EXITED", "StartError", 128), "status")
    expect("no such file or directory" in st["message"], "status message: %r" % st["message"])


def case_tty(env):
    """A container with a terminal (kubectl run -it): the runtime hands containerd the pty master
    through --console-socket; the output reaches the log through it."""
    pod = env.pod("tty")
    cid = env.container(pod, "c", ["sh", "-c", "tty; [ -t 0 ] && echo stdin-is-a-tty; sleep 1000"],
                        tty=True, stdin=True)
    path = os.path.join(pod[1]["log_directory"], "c.log")
    lines = wait_for(lambda: len(log_lines(path)) >= 2 and log_lines(path), 10, "two lines from the tty")
    expect_eq([(s, t.rstrip("\r")) for s, _, t in lines[:2]],
              [("stdout", "/dev/pts/0"), ("stdout", "stdin-is-a-tty")], "output through the pty")
    expect_eq(env.out(cid, "sh", "-c", "ls /dev/pts/").split(), ["0", "ptmx"], "the container's own devpts")


def stream(url, stdin=b""):
    """Runs a CRI streaming session (Exec, Attach) over a websocket, as kubectl can: channel 0 is
    stdin, 1 stdout, 2 stderr, 3 the final status (JSON). Returns (stdout, stderr, status)."""
    ws = websocket.create_connection(url.replace("http://", "ws://", 1), subprotocols=["v4.channel.k8s.io"],
                                     timeout=20)
    out = {1: b"", 2: b"", 3: b""}
    try:
        if stdin:
            ws.send_binary(b"\x00" + stdin)
        while True:
            msg = ws.recv()
            if not msg:
                break
            if isinstance(msg, str):
                msg = msg.encode()
            if msg[0] in out:
                out[msg[0]] += msg[1:]
    except websocket.WebSocketConnectionClosedException:
        pass
    finally:
        ws.close()
    return out[1].decode(errors="replace"), out[2].decode(errors="replace"), out[3].decode(errors="replace")


def case_exec_tty(env):
    """Exec with a terminal and stdin (kubectl exec -it): the runtime's exec --tty hands the pty
    to the shim through --console-socket."""
    pod = env.pod("exec-tty")
    cid = env.container(pod, "c", ["sleep", "1000"])
    url = env.cri.Exec(container_id=cid, cmd=["sh", "-c", "tty; read x; echo got:$x; exit 5"],
                       tty=True, stdin=True, stdout=True)["url"]
    out, _, status = stream(url, b"hello\n")
    lines = out.replace("\r", "").splitlines()
    # The terminal echoes "hello" when it arrives, which may be before or after tty's line.
    expect("/dev/pts/0" in lines and "got:hello" in lines, "output through the pty: %r" % out)
    expect('"reason":"ExitCode","message":"5"' in status, "exit status 5 in %s" % status)
    # Without a terminal: stdout and stderr on their own channels, the exit status 0.
    url = env.cri.Exec(container_id=cid, cmd=["sh", "-c", "read x; echo out:$x; echo err >&2; tty || true"],
                       stdin=True, stdout=True, stderr=True)["url"]
    out, err, status = stream(url, b"abc\n")
    expect_eq((out, err), ("out:abc\nnot a tty\n", "err\n"), "stdout and stderr of exec without a tty")
    expect('"status":"Success"' in status, "status: %s" % status)


def case_logs(env):
    pod = env.pod("logs")
    log_dir = pod[1]["log_directory"]
    cid = env.container(pod, "c", ["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 0"])
    env.wait_state(cid, "CONTAINER_EXITED")
    path = os.path.join(log_dir, "c.log")
    lines = wait_for(lambda: len(log_lines(path)) >= 2 and log_lines(path), 10, "two log lines")
    expect_eq(sorted(lines), [("stderr", "F", "to-stderr"), ("stdout", "F", "to-stdout")], "log lines")
    expect_eq(env.status(cid)["log_path"], path, "log path in status")
    # ReopenContainerLog: after the file is moved away, new output goes to a new file.
    cid = env.container(pod, "r", ["sh", "-c", "i=0; while :; do echo line$i; i=$((i+1)); sleep 0.2; done"])
    path = os.path.join(log_dir, "r.log")
    wait_for(lambda: len(log_lines(path)) >= 2, 10, "output before reopen")
    os.rename(path, path + ".1")
    env.cri.ReopenContainerLog(container_id=cid)
    wait_for(lambda: len(log_lines(path)) >= 2, 10, "output after reopen")
    before = [t for _, _, t in log_lines(path + ".1")]
    after = [t for _, _, t in log_lines(path)]
    expect(int(after[0][4:]) > int(before[-1][4:]) - 2, "the new file continues: %r after %r" % (after[:2], before[-2:]))


def host_mounts():
    return open("/proc/self/mountinfo").read()


def case_mount_propagation(env):
    """Volumes with rshared (BIDIRECTIONAL), rslave (HOST_TO_CONTAINER) and private propagation."""
    base = os.path.join(env.work, "prop-" + uuid.uuid4().hex[:6])
    dirs = {p: os.path.join(base, p) for p in ("shared", "slave", "private")}
    for d in dirs.values():
        os.makedirs(d)
    # BIDIRECTIONAL needs a shared mount at the source (containerd checks): bind it onto itself.
    subprocess.run(["mount", "--bind", base, base], check=True)
    try:
        subprocess.run(["mount", "--make-rshared", base], check=True)
        pod = env.pod("propagation", privileged=True)
        mounts = [{"container_path": "/mnt/" + p, "host_path": d, "propagation": prop}
                  for (p, d), prop in zip(dirs.items(), ("PROPAGATION_BIDIRECTIONAL",
                                                         "PROPAGATION_HOST_TO_CONTAINER",
                                                         "PROPAGATION_PRIVATE"))]
        cid = env.container(pod, "c", ["sleep", "1000"], mounts=mounts, security={"privileged": True})
        inside = env.out(cid, "cat", "/proc/self/mountinfo")
        line = next((l for l in inside.splitlines() if l.split()[4] == "/mnt/shared"), "")
        expect(re.search(r" shared:\d+", line), "/mnt/shared is shared inside: %r" % line)
        # Host to container: a mount made on the host under each volume.
        for p, d in dirs.items():
            os.makedirs(os.path.join(d, "from-host"))
            subprocess.run(["mount", "-t", "tmpfs", "from-host", os.path.join(d, "from-host")], check=True)
        inside = env.out(cid, "cat", "/proc/self/mountinfo")
        for p, seen in (("shared", True), ("slave", True), ("private", False)):
            got = (" /mnt/%s/from-host " % p) in inside
            expect_eq(got, seen, "host mount seen in /mnt/%s" % p)
        # Container to host: only the bidirectional volume carries it back.
        for p in dirs:
            env.out(cid, "sh", "-c", "mkdir -p /mnt/%s/from-ctr && mount -t tmpfs from-ctr /mnt/%s/from-ctr" % (p, p))
        host = host_mounts()
        for p, seen in (("shared", True), ("slave", False), ("private", False)):
            got = (" %s/from-ctr " % dirs[p]) in host
            expect_eq(got, seen, "container mount in /mnt/%s seen on the host" % p)
    finally:
        env.remove_pods()
        subprocess.run(["umount", "-R", "-l", base], stderr=subprocess.DEVNULL)


def case_host_network(env):
    marker = "crie2e%d" % (os.getpid() % 10000)
    subprocess.run(["ip", "link", "add", marker, "type", "bridge"], check=True)
    try:
        host = env.pod("hostnet", network="NODE")
        cid = env.container(host, "c", ["sleep", "1000"])
        expect(marker in env.out(cid, "cat", "/proc/net/dev"), "host's %s seen with network NODE" % marker)
        expect_eq(env.out(cid, "readlink", "/proc/self/ns/net").strip(), os.readlink("/proc/self/ns/net"), "net ns")
        pod = env.pod("podnet", network="POD")
        cid = env.container(pod, "c", ["sleep", "1000"])
        expect(marker not in env.out(cid, "cat", "/proc/net/dev"), "host's %s not seen with network POD" % marker)
        expect("eth0" in env.out(cid, "cat", "/proc/net/dev"), "the pod has eth0")
    finally:
        subprocess.run(["ip", "link", "del", marker])


def seccomp_mode(env, cid):
    return re.search(r"^Seccomp:\s+(\d)", env.out(cid, "cat", "/proc/self/status"), re.M).group(1)


def case_security_context(env):
    pod = env.pod("security")
    # No apparmor and no SELinux on this host: the defaults must still run.
    cid = env.container(pod, "default", ["sleep", "1000"])
    expect_eq(seccomp_mode(env, cid), "0", "seccomp mode with no profile")
    cid = env.container(pod, "runtime-default", ["sleep", "1000"],
                        security={"seccomp": {"profile_type": "RuntimeDefault"}})
    expect_eq(seccomp_mode(env, cid), "2", "seccomp mode with RuntimeDefault")
    cid = env.container(pod, "unconfined", ["sleep", "1000"], security={"seccomp": {"profile_type": "Unconfined"}})
    expect_eq(seccomp_mode(env, cid), "0", "seccomp mode with Unconfined")
    cid = env.container(pod, "caps", ["sleep", "1000"],
                        security={"capabilities": {"drop_capabilities": ["ALL"], "add_capabilities": ["NET_ADMIN"]}})
    caps = env.out(cid, "cat", "/proc/self/status")
    expect(re.search(r"^CapEff:\s+0000000000001000$", caps, re.M), "CapEff is NET_ADMIN only: %s" % caps)
    cid = env.container(pod, "ro", ["sleep", "1000"], security={"readonly_rootfs": True, "no_new_privs": True})
    code, _, err = env.exec(cid, "touch", "/x")
    expect(code != 0 and "Read-only file system" in err, "write to a read-only rootfs: %d %r" % (code, err))
    expect(re.search(r"^NoNewPrivs:\s+1$", env.out(cid, "cat", "/proc/self/status"), re.M), "no_new_privs")
    cid = env.container(pod, "masked", ["sleep", "1000"],
                        security={"masked_paths": ["/etc/group"], "readonly_paths": ["/tmp"]})
    expect_eq(env.out(cid, "cat", "/etc/group"), "", "masked /etc/group")
    code, _, err = env.exec(cid, "touch", "/tmp/x")
    expect(code != 0 and "Read-only file system" in err, "write to a readonly path: %d %r" % (code, err))


def case_run_as_user(env):
    pod = env.pod("user")
    cid = env.container(pod, "c", ["sh", "-c", "id; sleep 1000"],
                        security={"run_as_user": {"value": 1234}, "run_as_group": {"value": 5678},
                                  "supplemental_groups": [4321]})
    # ExecSync runs as the container's user too.
    ids = env.out(cid, "sh", "-c", "id -u; id -g; id -G").split()
    expect_eq(ids[:2], ["1234", "5678"], "uid, gid of exec")
    expect("4321" in ids[2:], "supplemental group 4321 in %r" % ids)
    path = os.path.join(pod[1]["log_directory"], "c.log")
    line = wait_for(lambda: log_lines(path), 10, "the container's id output")[0][2]
    expect(line.startswith("uid=1234 gid=5678"), "container's id: %r" % line)
    cid = env.container(pod, "named", ["sleep", "1000"], security={"run_as_username": "user"})
    expect_eq(env.out(cid, "id", "-u").strip(), "1000", "uid of run_as_username user")
    expect_eq(env.out(cid, "sh", "-c", "echo $HOME").strip(), "/home/user", "HOME of user")


def container_pid(env, cid):
    """The host pid of a container's process (from containerd's verbose status)."""
    info = env.cri.ContainerStatus(container_id=cid, verbose=True)["info"]
    return int(re.search(r'"pid":\s*(\d+)', info["info"]).group(1))


def cgroup_file(pid, controller, name):
    """The host's value of a cgroup v1 file (CONTROLLER/NAME) or v2 file (NAME) of PID."""
    for line in open("/proc/%d/cgroup" % pid).read().splitlines():
        _, ctrls, path = line.split(":", 2)
        if controller in ctrls.split(","):
            return open("/sys/fs/cgroup/%s%s/%s" % (ctrls, path, name)).read().strip()
        if ctrls == "" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            return open("/sys/fs/cgroup%s/%s" % (path, name)).read().strip()
    raise Failed("pid %d has no %s cgroup" % (pid, controller))


def expect_limits(pid, cpu_quota, cpu_shares, memory, when):
    """PID's cgroup has these limits (CPU period 100 ms); cpu.shares is v1 only."""
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        expected = {("", "cpu.max"): "%d 100000" % cpu_quota, ("", "memory.max"): str(memory)}
    else:
        expected = {("cpu", "cpu.cfs_quota_us"): str(cpu_quota), ("cpu", "cpu.shares"): str(cpu_shares),
                    ("memory", "memory.limit_in_bytes"): str(memory)}
    for (controller, name), value in expected.items():
        expect_eq(cgroup_file(pid, controller, name), value, "%s %s" % (name, when))


def case_resources(env):
    """The limits the kubelet sets at create, and UpdateContainerResources, read on the host."""
    pod = env.pod("resources")
    cid = env.container(pod, "c", ["sleep", "1000"], linux_resources={
        "cpu_period": 100000, "cpu_quota": 50000, "cpu_shares": 512,
        "memory_limit_in_bytes": 64 << 20, "oom_score_adj": 900})
    pid = container_pid(env, cid)
    expect_limits(pid, 50000, 512, 64 << 20, "at create")
    expect_eq(env.out(cid, "cat", "/proc/self/oom_score_adj").strip(), "900", "oom_score_adj")
    env.cri.UpdateContainerResources(container_id=cid, linux={
        "cpu_period": 100000, "cpu_quota": 20000, "cpu_shares": 256, "memory_limit_in_bytes": 96 << 20})
    expect_limits(pid, 20000, 256, 96 << 20, "after update")


def case_devices(env):
    """Host devices given under other names, with the access asked for (none is in the defaults)."""
    pod = env.pod("devices")
    cid = env.container(pod, "c", ["sleep", "1000"], devices=[
        {"host_path": "/dev/loop-control", "container_path": "/dev/xloop", "permissions": "r"},
        {"host_path": "/dev/net/tun", "container_path": "/dev/xtun", "permissions": "rw"}])
    ls = env.out(cid, "ls", "-l", "/dev/xloop", "/dev/xtun")
    expect(re.search(r"^c.* 10, +237 .*/dev/xloop$", ls, re.M) and re.search(r"^c.* 10, +200 .*/dev/xtun$", ls, re.M),
           "device nodes: %r" % ls)
    env.out(cid, "sh", "-c", "exec 3</dev/xloop")
    code, _, err = env.exec(cid, "sh", "-c", "exec 3>/dev/xloop")
    expect(code != 0 and "Operation not permitted" in err, "open for writing of an 'r' device: %d %r" % (code, err))
    env.out(cid, "sh", "-c", "exec 3<>/dev/xtun")


def case_oom(env):
    """A container over its memory limit: killed, and containerd reports OOMKilled (it learns of
    the OOM from the cgroup the runtime put the container in)."""
    pod = env.pod("oom")
    cid = env.container(pod, "c", ["sh", "-c", "x=a; while :; do x=$x$x; done"],
                        linux_resources={"memory_limit_in_bytes": 16 << 20, "memory_swap_limit_in_bytes": 16 << 20})
    st = env.wait_state(cid, "CONTAINER_EXITED", 60)
    expect_eq((st["exit_code"], st["reason"]), (137, "OOMKilled"), "exit code and reason")


def case_image_config(env):
    """The image's Cmd replaced by args, its Env merged with the container's, a working dir."""
    pod = env.pod("image-config")
    cid = env.container(pod, "c", [], args=["sh", "-c", "echo $PATH $A; pwd; sleep 1000"],
                        envs=[{"key": "A", "value": "b c"}], working_dir="/tmp/wd")
    line = wait_for(lambda: len(log_lines(os.path.join(pod[1]["log_directory"], "c.log"))) >= 2 and
                    log_lines(os.path.join(pod[1]["log_directory"], "c.log")), 10, "output")
    expect_eq([t for _, _, t in line], ["/usr/sbin:/usr/bin:/sbin:/bin b c", "/tmp/wd"], "output")
    expect_eq(env.out(cid, "pwd").strip(), "/tmp/wd", "ExecSync's working dir")


def case_pod_stop_remove(env):
    pod = env.pod("stop-remove")
    cids = [env.container(pod, "c%d" % i, ["sleep", "1000"]) for i in range(2)]
    pod_cgroup = pod[1]["linux"]["cgroup_parent"]
    for cid in cids:
        cgroups = open("/proc/%d/cgroup" % container_pid(env, cid)).read()
        for controller in ("memory", "cpuset", "pids"):
            expect(re.search(r"^\d+:%s:%s/%s$" % (controller, re.escape(pod_cgroup), cid), cgroups, re.M)
                   or os.path.exists("/sys/fs/cgroup/cgroup.controllers"),
                   "%s cgroup of %s under the pod's: %s" % (controller, cid[:12], cgroups))
    env.cri.StopPodSandbox(pod_sandbox_id=pod[0])
    for cid in cids:
        expect_eq(env.status(cid)["state"], "CONTAINER_EXITED", "container after StopPodSandbox")
    st = env.cri.PodSandboxStatus(pod_sandbox_id=pod[0])["status"]
    expect_eq(st["state"], "SANDBOX_NOTREADY", "sandbox after stop")
    env.cri.RemovePodSandbox(pod_sandbox_id=pod[0])
    env.pods.remove(pod[0])
    left = [c["id"] for c in env.cri.ListContainers()["containers"]]
    expect(not set(cids) & set(left), "containers listed after RemovePodSandbox")
    leftover = [path for root in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/pids",
                                  "/sys/fs/cgroup/unified", "/sys/fs/cgroup")
                for path in [root + pod_cgroup + "/" + d for d in [pod[0]] + cids] if os.path.isdir(path)]
    expect_eq(leftover, [], "cgroups left after RemovePodSandbox")


CASES = [
    ("runtime and network ready", case_runtime_ready),
    ("RunPodSandbox with a shared pid namespace", case_pod_shared_pid),
    ("container create/start/ExecSync/stats/stop/remove", case_container_lifecycle),
    ("pid namespace of a target container (kubectl debug --target)", case_target_pid),
    ("container exit codes", case_exit_code),
    ("StartContainer of a missing program: StartError", case_start_error),
    ("container logs and ReopenContainerLog", case_logs),
    ("a container with a terminal (tty, stdin)", case_tty),
    ("Exec (streaming) with a terminal and stdin, and without", case_exec_tty),
    ("mount propagation rshared, rslave, private", case_mount_propagation),
    ("host network and pod network", case_host_network),
    ("security context: seccomp, capabilities, read-only, masks", case_security_context),
    ("run as user, group, supplemental groups, username", case_run_as_user),
    ("resources at create and UpdateContainerResources", case_resources),
    ("devices with their permissions", case_devices),
    ("OOM kill: exit 137, OOMKilled", case_oom),
    ("image config: Cmd replaced by args, Env, working dir", case_image_config),
    ("StopPodSandbox and RemovePodSandbox", case_pod_stop_remove),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cgroup-parent", required=True)
    ap.add_argument("--containerd", default="/usr/bin/containerd")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    env = Env(Cri(args.socket, args.containerd), args.work, args.cgroup_parent)
    passed = failed = 0
    for name, fn in CASES:
        if args.only and not re.search(args.only, name):
            continue
        t0 = time.time()
        try:
            fn(env)
            passed += 1
            print("ok    %s (%.1fs)" % (name, time.time() - t0), flush=True)
        except Exception as e:  # a case's failure, whatever it is, is reported and the next runs
            failed += 1
            why = "%s: %s" % (e.code(), e.details()) if isinstance(e, grpc.RpcError) else str(e)
            print("FAIL  %s (%.1fs): %s" % (name, time.time() - t0, why), flush=True)
            if not isinstance(e, (Failed, grpc.RpcError)):
                traceback.print_exc(file=sys.stdout)
        finally:
            env.remove_pods()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
