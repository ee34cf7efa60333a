"""The systemd-box harness itself (systemdbox.py): a real systemd boots as PID 1, commands and transient units
run inside, journald writes its journal into the bind-mounted host directory where the host's journalctl reads
it, two boxes run side by side, and stopping leaves no process, no cgroup and no change to the cached tree."""

from __future__ import annotations

import os
import sys

import pytest

from systemdbox import BoxFactory, host_binaries, pid_alive, read_journal, require_boxes, rootfs

pytestmark = pytest.mark.timeout(900)  # the first run builds the cached root file system (30-90 s, more if busy)


@pytest.fixture
def boxes(tmp_path):
    require_boxes()
    f = BoxFactory(tmp_path)
    yield f
    f.cleanup()


def test_box_boots_systemd_runs_units_writes_the_journal_and_stops_clean(boxes, tmp_path):
    journal = tmp_path / "journal"
    box = boxes.new(journal_dir=journal).boot()
    print("booted in %.2f s" % box.boot_seconds)
    assert box.exec("cat", "/proc/1/comm").stdout.strip() == "systemd"
    assert box.exec("systemctl", "is-system-running", check=False).stdout.strip() in ("running", "degraded")
    assert box.exec("cat", "/etc/machine-id").stdout.strip() == box.machine_id
    # The journald drop-in placed before boot is in force.
    assert "Storage=persistent" in box.exec("cat", "/etc/systemd/journald.conf.d/50-skein-box.conf").stdout

    box.write_file("/usr/local/bin/count", "#!/bin/sh\ni=1\nwhile [ $i -le $1 ]; do echo \"boxtest $i\"; "
                   "i=$((i+1)); done\n", mode=0o755)
    box.run_unit("boxtest", "/usr/local/bin/count", "50", properties={"SyslogIdentifier": "boxtest"}, wait=True)
    box.exec("logger", "-t", "boxlogger", "-p", "user.err", "from logger")
    box.exec("systemd-cat", "-t", "boxcat", "-p", "warning", input="from systemd-cat\n")

    def entries(ident):
        return read_journal(box.machine_journal, "SYSLOG_IDENTIFIER=" + ident)

    from conftest import wait_until
    got = wait_until(lambda: len(e := entries("boxtest")) == 50 and e, 20, "50 boxtest entries on the host")
    assert [e["MESSAGE"] for e in got] == ["boxtest %d" % i for i in range(1, 51)]
    assert {e["_SYSTEMD_UNIT"] for e in got} == {"boxtest.service"}
    assert {e["_HOSTNAME"] for e in got} == {"skein-box"}
    assert {e["PRIORITY"] for e in got} == {"6"}
    assert [(e["MESSAGE"], e["PRIORITY"]) for e in wait_until(lambda: entries("boxlogger"), 20, "logger")] \
        == [("from logger", "3")]
    assert [(e["MESSAGE"], e["PRIORITY"]) for e in wait_until(lambda: entries("boxcat"), 20, "systemd-cat")] \
        == [("from systemd-cat", "4")]

    # Rotation inside is seen on the host: one archived file more.
    before = sorted(p.name for p in box.machine_journal.glob("system@*.journal"))
    box.exec("journalctl", "--rotate")
    assert len(sorted(p.name for p in box.machine_journal.glob("system@*.journal"))) == len(before) + 1

    # A second box runs alongside: its own machine id, its own journal.
    other = boxes.new(journal_dir=tmp_path / "journal2").boot()
    assert other.machine_id != box.machine_id and other.leader != box.leader
    assert other.exec("cat", "/etc/machine-id").stdout.strip() == other.machine_id
    assert other.stop() == "poweroff"

    box.exec("touch", "/etc/written-inside")
    leader, nspawn, cgroups = box.leader, box.proc.pid, list(box.cgroups)
    assert cgroups, "no cgroup of its own for the box"
    assert box.stop() == "poweroff"
    assert not pid_alive(leader) and not pid_alive(nspawn)
    assert not any(d.exists() for d in cgroups), "cgroups left: %s" % cgroups
    assert not (rootfs() / "etc/written-inside").exists(), "a write inside reached the cached tree"
    # The journal stays on the host after the box is gone, complete.
    assert len(entries("boxtest")) == 50


def test_box_that_ignores_poweroff_is_killed_by_pid(boxes):
    box = boxes.new().boot()
    # systemd ignores SIGRTMIN+4 while it is frozen; SIGSTOP of PID 1 stands for a container that hangs.
    leader = box.leader
    os.kill(leader, 19)  # SIGSTOP
    assert box.stop(timeout=2) == "killed"
    assert not pid_alive(leader) and not pid_alive(box.proc.pid)


def test_host_built_binary_runs_inside_and_host_clients_reach_box_sockets(boxes):
    """What the systemd-unit tests build on: the host's skein-agent runs inside with the Swift runtime bound in
    (host_binaries), and a host program in the box's network namespace reaches a socket-activated service."""
    from agentharness import agent_path
    agent = agent_path()
    settings = host_binaries(agent)
    assert settings["ro_binds"], "no Swift runtime directory in the RUNPATH of %s" % agent
    box = boxes.new(ro_binds={**settings["ro_binds"], str(agent.parent): "/opt/skein/bin"},
                    extra_packages=settings["extra_packages"]).boot()
    res = box.exec("/opt/skein/bin/skein-agent", "--once", "--host-name", "in-box", timeout=60)
    assert '"in-box"' in res.stdout, res.stdout[:300]

    box.write_file("/etc/systemd/system/echo.socket", "[Socket]\nListenStream=127.0.0.1:7777\nAccept=yes\n")
    box.write_file("/etc/systemd/system/echo@.service", "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n")
    box.systemctl("daemon-reload")
    box.systemctl("start", "echo.socket")
    probe = ("import socket; s = socket.create_connection(('127.0.0.1', 7777), 5); s.sendall(b'ping'); "
             "s.shutdown(socket.SHUT_WR); print(s.recv(100).decode())")
    assert box.exec_in_net(sys.executable, "-c", probe).stdout.strip() == "ping"
    # The host's own loopback does not have it: the box's network is private.
    assert box.exec_in_net("true") and not _port_open_on_host(7777)


def _port_open_on_host(port: int) -> bool:
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def test_a_machine_that_cannot_boot_boxes_is_told_why():
    """The skip path: without root, `systemdbox.py check` (what require_boxes asks) names the reason and fails,
    rather than the tests passing without a box."""
    import shutil
    import subprocess
    from pathlib import Path
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop to nobody")
    # The script on stdin: nobody may not be able to read the checkout.
    res = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3",
                          "-", "check"], input=Path(__file__).with_name("systemdbox.py").read_text(),
                         capture_output=True, text=True, timeout=60, cwd="/")
    assert res.returncode == 1 and "needs root" in res.stdout, (res.returncode, res.stdout, res.stderr)
