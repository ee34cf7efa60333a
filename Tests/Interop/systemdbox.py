"""A real systemd as PID 1 for tests: a Debian bookworm root file system built once with mmdebstrap and cached,
booted with systemd-nspawn, driven from the host. Used by the real-journald tests of skein-agent
(test_agent_journald_real.py) and meant for the systemd-unit tests too; `scripts/systemd-box` is a thin command
line over it (python3 systemdbox.py --help).

Why this shape:
- The root file system comes from the host's own apt sources, so its glibc and libsystemd are the host's: a
  binary built on the host runs inside, and journal files written inside are read by the host's libsystemd.
- It is cached per package set (a hash of the packages, the suite and the apt sources) under
  $SKEIN_SYSTEMD_CACHE (default $XDG_CACHE_HOME/skein/systemd-rootfs, i.e. ~/.cache/skein/systemd-rootfs), so
  every checkout on a machine shares it; building it takes 30-90 s once. A lock file makes parallel tests wait
  for one build instead of racing.
- Each boot uses `--volatile=overlay`: the cached tree is the read-only lower layer and every write goes to a
  tmpfs, so boots never change the cache and several can run at once. What a test must keep (a journal) goes to
  a host directory bind-mounted in.
- `--register=no --keep-unit`: the host's PID 1 need not be systemd (CI containers, these machines). nspawn
  then puts the container under its own cgroup; we give each box a cgroup of its own first (a child of ours in
  every hierarchy we can write), so that boxes never share `payload`/`supervisor` cgroups.
- Commands run inside through nsenter into every namespace of the container's PID 1 (no dbus or machined on
  the host needed); long-lived processes inside go through `systemd-run`, so systemd and journald see them as
  units.
- Everything is stopped by pid and every wait is bounded: poweroff (SIGRTMIN+4 to the container's PID 1), then
  SIGKILL of that PID 1 (the kernel then kills its whole pid namespace), then of nspawn. Killing only nspawn
  would leave the container's PID 1 running, reparented.

Environment: SKEIN_SYSTEMD_CACHE (cache directory), SKEIN_SYSTEMD_ROOTFS (use this prebuilt root file system;
nothing is built), SKEIN_SYSTEMD_BOOT_TIMEOUT (seconds, default 60)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SUITE = "bookworm"
# systemd as init, dbus for systemctl's bus calls, procps for ps/pkill when one debugs inside. logger (bsdutils)
# and systemd-cat come with minbase and systemd.
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "libsystemd0", "procps")
# Bump when the build recipe below changes, so that caches built by an older recipe are not reused.
RECIPE = 1
HOSTNAME = "skein-box"
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BOOT_TIMEOUT = float(os.environ.get("SKEIN_SYSTEMD_BOOT_TIMEOUT", "60"))


class BoxError(AssertionError):
    """A box failed to build, boot, run a command or stop."""


def _wait(predicate, timeout: float, interval: float = 0.05):
    """Polls predicate() until truthy (returned) or `timeout` seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def pid_alive(pid: int | None) -> bool:
    """A zombie counts as dead: it runs nothing and only waits for its parent."""
    if not pid:
        return False
    try:
        status = Path("/proc/%d/status" % pid).read_text()
    except OSError:
        return False
    state = next((l for l in status.splitlines() if l.startswith("State:")), "")
    return "Z" not in state.split()[1:2]


# ---------------------------------------------------------------------------------------------- availability

_UNAVAILABLE: list[str | None] = []


def unavailable_reason() -> str | None:
    """Why this machine cannot boot a box, or None when it can. Only a missing capability counts (not root,
    tools missing, namespaces refused); a box that fails to boot on a capable machine is a failure, not a skip."""
    if _UNAVAILABLE:
        return _UNAVAILABLE[0]
    reason = None
    if not sys.platform.startswith("linux"):
        reason = "systemd-nspawn needs Linux"
    elif os.geteuid() != 0:
        reason = "systemd-nspawn needs root (run the tests as root, e.g. in the CI container)"
    else:
        missing = [t for t in ("systemd-nspawn", "nsenter", "unshare") if shutil.which(t) is None]
        if os.environ.get("SKEIN_SYSTEMD_ROOTFS") is None and shutil.which("mmdebstrap") is None:
            missing.append("mmdebstrap")
        if missing:
            reason = "%s not installed (scripts/setup installs systemd-container and mmdebstrap)" % ", ".join(missing)
        elif not Path("/sys/fs/cgroup").is_dir() or not any(Path("/sys/fs/cgroup").iterdir()):
            reason = "no cgroup file system at /sys/fs/cgroup"
        else:
            # The namespaces nspawn needs: a seccomp profile or a user namespace without privileges refuses them.
            probe = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--uts", "--ipc", "--net", "true"],
                                   capture_output=True, text=True, timeout=30)
            if probe.returncode != 0:
                reason = "cannot create namespaces here (unshare: %s)" % probe.stderr.strip()
    _UNAVAILABLE.append(reason)
    return reason


# ---------------------------------------------------------------------------------------------- root file system


def cache_dir() -> Path:
    explicit = os.environ.get("SKEIN_SYSTEMD_CACHE")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "skein" / "systemd-rootfs"


def host_apt_sources() -> Path:
    """The host's apt sources (deb822 or one-line style): the root file system comes from the same mirror and
    suites, so its libraries match the host's."""
    for p in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        try:
            text = p.read_text()
        except OSError:
            continue
        if any(l.startswith(("deb ", "Types:")) for l in text.splitlines()):
            return p
    raise BoxError("no Debian apt sources on this host (/etc/apt/sources.list.d/debian.sources or sources.list)")


def rootfs(extra_packages: tuple[str, ...] | list[str] = (), timeout: float = 900.0) -> Path:
    """The cached root file system for BASE_PACKAGES + extra_packages, built first if missing (under a lock)."""
    explicit = os.environ.get("SKEIN_SYSTEMD_ROOTFS")
    if explicit:
        path = Path(explicit)
        if not (path / "lib/systemd/systemd").exists():
            raise BoxError("SKEIN_SYSTEMD_ROOTFS=%s holds no lib/systemd/systemd" % path)
        return path
    packages = sorted(set(BASE_PACKAGES) | set(extra_packages))
    sources = host_apt_sources()
    key = hashlib.sha256(json.dumps({"suite": SUITE, "packages": packages, "recipe": RECIPE,
                                     "sources": sources.read_text()}, sort_keys=True).encode()).hexdigest()[:16]
    base = cache_dir()
    base.mkdir(parents=True, exist_ok=True)
    path = base / ("%s-%s" % (SUITE, key))
    if (path / "lib/systemd/systemd").exists():
        return path
    with open(base / (".%s.lock" % path.name), "w") as lock:
        # Another process may be building this very tree: wait for its lock (bounded), then look again.
        if not _wait(lambda: _try_lock(lock), timeout, interval=0.5):
            raise BoxError("timed out after %.0fs waiting for another build of %s" % (timeout, path))
        if (path / "lib/systemd/systemd").exists():
            return path
        _build_rootfs(path, packages, sources, timeout)
    return path


def _try_lock(f) -> bool:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _remove_tree(tree: Path):
    """Removes a build tree, unless something is mounted in it: a killed mmdebstrap can leave /proc, /sys or
    /dev mounted there, and removing through a bind mount would remove the host's files."""
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    if any((" %s/" % tree) in m or (" %s " % tree) in m for m in mounts):
        print("systemdbox: leaving %s, something is mounted in it" % tree, file=sys.stderr)
        return
    shutil.rmtree(tree, ignore_errors=True)


def _build_rootfs(path: Path, packages: list[str], sources: Path, timeout: float):
    # Under the lock: a .tmp-* tree left here is a build that was killed, never one in progress.
    for stale in path.parent.glob(path.name + ".tmp-*"):
        _remove_tree(stale)
    tmp = path.with_name(path.name + ".tmp-%d" % os.getpid())
    log = path.with_name(path.name + ".log")
    hooks = [
        'echo %s > "$1/etc/hostname"' % HOSTNAME,
        'printf "127.0.0.1 localhost %s\\n::1 localhost\\n" > "$1/etc/hosts"' % HOSTNAME,
        # Empty: systemd then takes the machine id nspawn passes (--uuid), a different one per boot.
        'rm -f "$1/etc/machine-id"; touch "$1/etc/machine-id"',
        # No getty on the container's console: nothing reads it, and it only adds a unit to start.
        'rm -f "$1/etc/systemd/system/getty.target.wants/"*',
    ]
    cmd = ["mmdebstrap", "--variant=minbase", "--mode=root", "--include=" + ",".join(packages)]
    for pattern in ("/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*"):
        cmd.append("--dpkgopt=path-exclude=" + pattern)
    cmd += ["--customize-hook=" + h for h in hooks]
    cmd += [SUITE, str(tmp), str(sources)]
    started = time.monotonic()
    with open(log, "wb") as out:
        try:
            res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            _remove_tree(tmp)
            raise BoxError("mmdebstrap took more than %.0fs (log: %s)" % (timeout, log)) from None
    if res.returncode != 0:
        _remove_tree(tmp)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise BoxError("mmdebstrap exited %d building %s:\n%s" % (res.returncode, path, tail))
    os.rename(tmp, path)
    print("systemdbox: built %s in %.0f s" % (path, time.monotonic() - started), file=sys.stderr)


# ---------------------------------------------------------------------------------------------- cgroups


def _own_cgroup_dirs(name: str) -> list[Path]:
    """For each cgroup hierarchy nspawn may use (cgroup2, and the name=systemd v1 hierarchy of a hybrid host):
    a child of our own cgroup, named for the box."""
    ours: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        hid, controllers, path = line.split(":", 2)
        if hid == "0" and controllers == "":
            ours["unified"] = path
        elif controllers == "name=systemd":
            ours["systemd"] = path
    roots = []
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        roots.append((Path("/sys/fs/cgroup"), ours.get("unified")))
    else:
        if Path("/sys/fs/cgroup/unified/cgroup.controllers").exists():
            roots.append((Path("/sys/fs/cgroup/unified"), ours.get("unified")))
        if Path("/sys/fs/cgroup/systemd/cgroup.procs").exists():
            roots.append((Path("/sys/fs/cgroup/systemd"), ours.get("systemd")))
    dirs = []
    for root, own in roots:
        if own is None:
            continue
        d = root / own.lstrip("/") / ("skein-box-" + name)
        try:
            d.mkdir(parents=False, exist_ok=True)
        except OSError:
            continue
        dirs.append(d)
    return dirs


def _remove_cgroups(dirs: list[Path]):
    """Removes the box's cgroups, deepest first (rmdir only succeeds on an empty cgroup)."""
    for d in dirs:
        if not d.exists():
            continue
        subdirs = sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for p in subdirs + [d]:
            with contextlib.suppress(OSError):
                p.rmdir()


def _cgroup_pids(dirs: list[Path]) -> list[int]:
    pids = []
    for d in dirs:
        if d.exists():
            for procs in d.rglob("cgroup.procs"):
                with contextlib.suppress(OSError):
                    pids += [int(x) for x in procs.read_text().split()]
    return [p for p in pids if pid_alive(p)]


# ---------------------------------------------------------------------------------------------- the box


class SystemdBox:
    """One container booted from the cached root file system.

    binds: host path → container path (read-write), ro_binds likewise read-only; files: container path → text or
    bytes, placed before boot (bind-mounted read-only from a staging directory: the way to configure services
    such as journald before they start); journal_dir: a host directory that becomes /var/log/journal with
    Storage=persistent (the journal of machine id `machine_id` is then journal_dir/<machine_id>);
    network: "private" (only lo) or "host"."""

    def __init__(self, base: Path, name: str | None = None, extra_packages: tuple[str, ...] = (),
                 binds: dict | None = None, ro_binds: dict | None = None, files: dict | None = None,
                 journal_dir: Path | None = None, journald_conf: dict | None = None, network: str = "private"):
        assert network in ("private", "host"), network
        self.name = name or "b" + uuid.uuid4().hex[:10]
        self.base = Path(base)
        self.run_dir = self.base / ("box-" + self.name)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.extra_packages = tuple(extra_packages)
        self.binds = {str(k): str(v) for k, v in (binds or {}).items()}
        self.ro_binds = {str(k): str(v) for k, v in (ro_binds or {}).items()}
        self.files = dict(files or {})
        self.network = network
        self.machine_id = uuid.uuid4().hex
        self.journal_dir = Path(journal_dir) if journal_dir else None
        if self.journal_dir is not None:
            self.journal_dir.mkdir(parents=True, exist_ok=True)
            self.binds[str(self.journal_dir)] = "/var/log/journal"
            conf = {"Storage": "persistent", "RateLimitIntervalSec": "0", "ForwardToSyslog": "no",
                    **(journald_conf or {})}
            self.files["/etc/systemd/journald.conf.d/50-skein-box.conf"] = \
                "[Journal]\n" + "".join("%s=%s\n" % kv for kv in conf.items())
        self.proc: subprocess.Popen | None = None
        self.leader: int | None = None
        self.cgroups: list[Path] = []
        self.console_path = self.run_dir / "console.log"
        self.boot_seconds: float | None = None

    # ------------------------------------------------------------------ life cycle

    @property
    def machine_journal(self) -> Path:
        """The host directory journald writes this boot's system journal into."""
        assert self.journal_dir is not None, "box booted without journal_dir"
        return self.journal_dir / self.machine_id

    def command(self, root: Path) -> list[str]:
        cmd = ["systemd-nspawn", "--quiet", "--directory", str(root), "--machine", self.name, "--boot",
               "--register=no", "--keep-unit", "--console=read-only", "--volatile=overlay",
               "--uuid=" + self.machine_id, "--hostname=" + HOSTNAME]
        if self.network == "private":
            cmd.append("--private-network")
        staged = self.run_dir / "files"
        for i, (dest, content) in enumerate(self.files.items()):
            src = staged / str(i)
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_bytes(content.encode() if isinstance(content, str) else content)
            src.chmod(0o644)
            cmd.append("--bind-ro=%s:%s" % (src, dest))
        cmd += ["--bind=%s:%s" % kv for kv in self.binds.items()]
        cmd += ["--bind-ro=%s:%s" % kv for kv in self.ro_binds.items()]
        return cmd

    def boot(self, timeout: float = BOOT_TIMEOUT) -> "SystemdBox":
        reason = unavailable_reason()
        if reason:
            raise BoxError("cannot boot a systemd box: " + reason)
        assert self.proc is None, "box %s already booted" % self.name
        root = rootfs(self.extra_packages)
        self.cgroups = _own_cgroup_dirs(self.name)
        # The wrapper moves itself into the box's cgroups, then becomes nspawn (which stays in them).
        script = "".join("echo $$ > %s; " % shlex.quote(str(d / "cgroup.procs")) for d in self.cgroups)
        script += 'exec "$@"'
        started = time.monotonic()
        with open(self.console_path, "wb") as console:
            self.proc = subprocess.Popen(["sh", "-c", script, "sh", *self.command(root)], stdin=subprocess.DEVNULL,
                                         stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
        (self.run_dir / "nspawn.pid").write_text(str(self.proc.pid))
        try:
            self.leader = self._find_leader(timeout)
            (self.run_dir / "leader.pid").write_text(str(self.leader))
            self._wait_running(started + timeout)
        except BaseException:
            self.stop()
            raise
        self.boot_seconds = time.monotonic() - started
        return self

    def _find_leader(self, timeout: float) -> int:
        """The container's PID 1 as a host pid: nspawn's child once it has exec'd systemd."""
        def find():
            if self.proc.poll() is not None:
                raise BoxError("systemd-nspawn exited %s:\n%s" % (self.proc.returncode, self.console_tail()))
            for child in _children(self.proc.pid):
                with contextlib.suppress(OSError):
                    if Path("/proc/%d/comm" % child).read_text().strip() == "systemd":
                        return child
            return None
        leader = _wait(find, timeout)
        if leader is None:
            raise BoxError("no container PID 1 within %.0fs:\n%s" % (timeout, self.console_tail()))
        return leader

    def _wait_running(self, deadline: float):
        """Until `systemctl is-system-running` says running or degraded (a unit that failed is the test's
        business, it is reported by failed_units())."""
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BoxError("systemd-nspawn exited %s during boot:\n%s" % (self.proc.returncode,
                                                                               self.console_tail()))
            res = self.exec("systemctl", "is-system-running", check=False, timeout=10)
            last = res.stdout.strip() or res.stderr.strip()
            if last in ("running", "degraded"):
                return
            if last == "stopping":
                break
            time.sleep(0.05)
        raise BoxError("system not running (is-system-running: %r):\n%s" % (last, self.console_tail()))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> str:
        """Powers the box off and waits for nspawn; escalates to SIGKILL by pid. Returns how it ended: "poweroff",
        "killed" or "not running". Afterwards no process of the box is left (checked)."""
        how = "not running"
        if self.proc is not None and self.proc.poll() is None:
            how = "poweroff"
            if pid_alive(self.leader):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.leader, signal.SIGRTMIN + 4)  # systemd's "poweroff" signal
            else:
                self.proc.terminate()  # nspawn halts the container on SIGTERM
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                how = "killed"
        if self.proc is not None and (self.proc.poll() is None or pid_alive(self.leader)):
            how = "killed"
            # The kernel kills every process of a pid namespace when its PID 1 dies.
            if pid_alive(self.leader):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.leader, signal.SIGKILL)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        leftovers = _wait(lambda: not _cgroup_pids(self.cgroups) and not pid_alive(self.leader), 10)
        pids = _cgroup_pids(self.cgroups)
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        _remove_cgroups(self.cgroups)
        for f in ("nspawn.pid", "leader.pid"):
            with contextlib.suppress(FileNotFoundError):
                (self.run_dir / f).unlink()
        if not leftovers:
            raise BoxError("box %s left processes behind after stop (killed): %s" % (self.name, pids))
        return how

    def __enter__(self):
        return self.boot() if self.proc is None else self

    def __exit__(self, *exc):
        self.stop()

    def console_tail(self, lines: int = 40) -> str:
        try:
            text = self.console_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no console log)"
        return "\n".join(text[-lines:])

    # ------------------------------------------------------------------ inside

    def argv(self, *args: str) -> list[str]:
        """The host command line that runs `args` inside, as root, with a clean environment."""
        assert self.leader, "box not booted"
        return ["nsenter", "--target", str(self.leader), "--all", "--", "env", "-i", "PATH=" + CONTAINER_PATH,
                "LANG=C.UTF-8", "TERM=dumb", *args]

    def mount_argv(self, *args: str) -> list[str]:
        """The host command line that runs `args` in the box's mount, UTS and IPC namespaces but the host's pid
        namespace: it sees the box's files (its /etc/machine-id, its journal), and nsenter execs it without a
        fork, so the pid the caller gets is the program's own (SIGKILL by pid works; entering the pid namespace
        would make nsenter fork). The box's /proc shows only the box's pids, so /proc/self would not exist for
        it (Swift reads its arguments from /proc/self/cmdline): unshare gives it a mount namespace of its own
        with a /proc of the host's pids (no fork either). Binaries and data must be bound in at the paths
        given."""
        assert self.leader, "box not booted"
        return ["nsenter", "--target", str(self.leader), "--mount", "--uts", "--ipc", "--", "unshare",
                "--mount-proc", "--", *args]

    def net_argv(self, *args: str) -> list[str]:
        """The host command line that runs the HOST's program `args` in the box's network namespace only: a
        host client (kcat, python) reaching a socket the box listens on with a private network."""
        assert self.leader, "box not booted"
        return ["nsenter", "--target", str(self.leader), "--net", "--", *args]

    def exec_in_net(self, *args: str, input: bytes | str | None = None, timeout: float = 60.0,
                    check: bool = True) -> subprocess.CompletedProcess:
        try:
            res = subprocess.run(self.net_argv(*args), input=input, capture_output=True,
                                 text=not isinstance(input, bytes), timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BoxError("%s took more than %.0fs in box %s's network" % (shlex.join(args), timeout,
                                                                            self.name)) from None
        if check and res.returncode != 0:
            raise BoxError("%s exited %d in box %s's network:\n%s%s" % (shlex.join(args), res.returncode,
                                                                        self.name, res.stdout, res.stderr))
        return res

    def exec(self, *args: str, input: bytes | str | None = None, timeout: float = 60.0, check: bool = True,
             text: bool = True) -> subprocess.CompletedProcess:
        """Runs a command inside and waits for it (bounded). check: raise BoxError on a non-zero exit."""
        if isinstance(input, str) and not text:
            input = input.encode()
        try:
            res = subprocess.run(self.argv(*args), input=input, capture_output=True, text=text, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BoxError("%s took more than %.0fs in box %s" % (shlex.join(args), timeout, self.name)) from None
        if check and res.returncode != 0:
            raise BoxError("%s exited %d in box %s:\n%s%s" % (shlex.join(args), res.returncode, self.name,
                                                             res.stdout, res.stderr))
        return res

    def sh(self, script: str, **kw) -> subprocess.CompletedProcess:
        return self.exec("sh", "-c", script, **kw)

    def popen(self, *args: str, **kw) -> subprocess.Popen:
        """Starts a command inside without waiting; the caller waits for it (bounded)."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(*args), **kw)

    def write_file(self, path: str, content: bytes | str, mode: int = 0o644):
        """Writes a file inside (parents created). Through the container's own view of its tree, not through
        /proc/PID/root, where an absolute symbolic link would resolve on the host."""
        data = content.encode() if isinstance(content, str) else content
        self.exec("sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod %o "$1"' % mode, "sh", path,
                  input=data, text=False)

    def copy_in(self, host_path: Path | str, path: str, mode: int | None = None):
        host_path = Path(host_path)
        self.write_file(path, host_path.read_bytes(), mode if mode is not None else host_path.stat().st_mode & 0o7777)

    def systemctl(self, *args: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess:
        return self.exec("systemctl", "--no-pager", *args, check=check, timeout=timeout)

    def run_unit(self, unit: str, *command: str, properties: dict | None = None, wait: bool = False,
                 timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Starts `command` as the transient service `unit` (systemd-run): its stdout and stderr go to the
        journal, as any service's do. wait: until it exits (bounded by timeout). systemd expands $VAR in the
        command line, so pass scripts as files rather than inline."""
        args = ["systemd-run", "--quiet", "--collect", "--unit", unit]
        for k, v in (properties or {}).items():
            args += ["--property", "%s=%s" % (k, v)]
        if wait:
            args.append("--wait")
        return self.exec(*args, "--", *command, timeout=timeout)

    def unit_state(self, unit: str) -> dict[str, str]:
        res = self.systemctl("show", "--property=ActiveState,SubState,Result,ExecMainStatus,MainPID", unit)
        return dict(l.split("=", 1) for l in res.stdout.splitlines() if "=" in l)

    def wait_unit_done(self, unit: str, timeout: float = 60.0) -> dict[str, str]:
        """Waits (bounded) until the service has exited; BoxError unless it exited 0. With --collect a unit
        that succeeded is unloaded at once, and shows as inactive with Result=success."""
        state = _wait(lambda: (s := self.unit_state(unit))["ActiveState"] in ("inactive", "failed") and s,
                      timeout, interval=0.1)
        if not state:
            raise BoxError("%s still running after %.0fs: %s" % (unit, timeout, self.unit_state(unit)))
        if state["ActiveState"] == "failed" or state.get("Result", "success") != "success":
            raise BoxError("%s failed: %s\n%s" % (unit, state, self.exec("journalctl", "--no-pager", "-u", unit,
                                                                          check=False).stdout[-3000:]))
        return state

    def failed_units(self) -> list[str]:
        res = self.systemctl("list-units", "--failed", "--plain", "--no-legend", check=False)
        return [l.split()[0] for l in res.stdout.splitlines() if l.strip()]


# What a binary built on the host needs in the box besides BASE_PACKAGES (which bring zlib, lz4, zstd and
# libstdc++): the rest of the libraries skeind, skein and skein-agent link.
HOST_BINARY_PACKAGES = ("libsnappy1v5",)


def host_binaries(*binaries: Path | str) -> dict:
    """Settings for BoxFactory.new / SystemdBox that let these host-built binaries run inside unchanged: the
    packages above, and the Swift runtime directories named in their RUNPATH (the toolchain's
    usr/lib/swift/linux) bound read-only at the same paths. Merge into new(**kw)."""
    runtime: dict[str, str] = {}
    for b in binaries:
        res = subprocess.run(["readelf", "-d", str(b)], capture_output=True, text=True, timeout=30, check=True)
        for line in res.stdout.splitlines():
            if "(RUNPATH)" in line or "(RPATH)" in line:
                for d in line.split("[", 1)[1].rstrip("]").split(":"):
                    if d.startswith("/") and (Path(d) / "libswiftCore.so").exists():
                        runtime[d] = d
    return {"extra_packages": HOST_BINARY_PACKAGES, "ro_binds": runtime}


def _children(pid: int) -> list[int]:
    out = []
    for task in Path("/proc/%d/task" % pid).glob("*"):
        with contextlib.suppress(OSError):
            out += [int(x) for x in (task / "children").read_text().split()]
    return out


# ---------------------------------------------------------------------------------------------- journal


def read_journal(directory: Path, *matches: str, timeout: float = 60.0) -> list[dict]:
    """Every entry of the journal files in `directory` (journalctl -D on the host), in order, as JSON objects;
    matches as journalctl takes them (FIELD=value)."""
    res = subprocess.run(["journalctl", "--no-pager", "-D", str(directory), "-o", "json", *matches],
                         capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0 and "No entries" not in res.stderr:
        raise BoxError("journalctl -D %s exited %d: %s" % (directory, res.returncode, res.stderr))
    return [json.loads(l) for l in res.stdout.splitlines() if l.strip()]


# ---------------------------------------------------------------------------------------------- pytest


class BoxFactory:
    """Boxes for one test; every box still running at teardown is stopped (by pid, bounded)."""

    def __init__(self, base: Path):
        self.base = base
        self.boxes: list[SystemdBox] = []

    def new(self, **kw) -> SystemdBox:
        box = SystemdBox(self.base, **kw)
        self.boxes.append(box)
        return box

    def cleanup(self):
        errors = []
        for box in self.boxes:
            try:
                box.stop()
            except BoxError as e:
                errors.append(str(e))
        assert not errors, "; ".join(errors)


def require_boxes():
    """Skips the calling test, with the reason, when this machine cannot boot a box at all."""
    import pytest
    reason = unavailable_reason()
    if reason:
        pytest.skip("no systemd box: " + reason)


# ---------------------------------------------------------------------------------------------- command line


def _cli(argv: list[str]) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="systemd-box", description="Boot a real systemd (PID 1) in systemd-nspawn "
                                "over the tests' cached Debian root file system, run commands in it, stop it.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rootfs", help="build the cached root file system if missing; print its path")
    r.add_argument("--package", action="append", default=[], help="an extra Debian package (repeatable)")
    b = sub.add_parser("boot", help="boot a box and keep it running in the background")
    b.add_argument("name")
    b.add_argument("--package", action="append", default=[])
    b.add_argument("--bind", action="append", default=[], help="HOST:CONTAINER, read-write (repeatable)")
    b.add_argument("--journal-dir", help="host directory for /var/log/journal (Storage=persistent)")
    b.add_argument("--network", choices=("private", "host"), default="private")
    e = sub.add_parser("exec", help="run a command inside a booted box")
    e.add_argument("name")
    e.add_argument("command", nargs=argparse.REMAINDER)
    s = sub.add_parser("stop", help="power a box off (escalating to SIGKILL by pid)")
    s.add_argument("name")
    sub.add_parser("check", help="say whether this machine can boot boxes")
    a = p.parse_args(argv)
    state = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / "skein-systemd-box"
    if a.cmd == "check":
        reason = unavailable_reason()
        print(reason or "ok: systemd-nspawn can boot boxes here")
        return 1 if reason else 0
    if a.cmd == "rootfs":
        print(rootfs(tuple(a.package)))
        return 0
    if a.cmd == "boot":
        binds = dict(x.split(":", 1) for x in a.bind)
        box = SystemdBox(state, a.name, extra_packages=tuple(a.package), binds=binds,
                         journal_dir=Path(a.journal_dir) if a.journal_dir else None, network=a.network)
        if (box.run_dir / "nspawn.pid").exists() and pid_alive(int((box.run_dir / "nspawn.pid").read_text())):
            print("box %s is already running" % a.name, file=sys.stderr)
            return 1
        box.boot()
        (box.run_dir / "cgroups").write_text("\n".join(map(str, box.cgroups)))
        print("box %s running in %.2f s: nspawn pid %d, PID 1 = host pid %d, machine id %s, console %s"
              % (a.name, box.boot_seconds, box.proc.pid, box.leader, box.machine_id, box.console_path))
        return 0
    box = _attach(state, a.name)
    if a.cmd == "exec":
        return subprocess.run(box.argv(*(a.command or ["bash"]))).returncode
    box.proc = _PidProcess(int((box.run_dir / "nspawn.pid").read_text()))
    print(box.stop())
    return 0


def _attach(state: Path, name: str) -> SystemdBox:
    box = SystemdBox(state, name)
    try:
        box.leader = int((box.run_dir / "leader.pid").read_text())
    except (OSError, ValueError):
        raise SystemExit("box %s is not running (no %s)" % (name, box.run_dir / "leader.pid"))
    with contextlib.suppress(OSError):
        box.cgroups = [Path(l) for l in (box.run_dir / "cgroups").read_text().splitlines() if l]
    return box


class _PidProcess:
    """Popen's poll/wait/terminate/kill for a process started by an earlier command (not our child)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode = None

    def poll(self):
        return None if pid_alive(self.pid) else 0

    def wait(self, timeout: float):
        if not _wait(lambda: not pid_alive(self.pid), timeout):
            raise subprocess.TimeoutExpired("systemd-nspawn", timeout)
        return 0

    def terminate(self):
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)

    def kill(self):
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
