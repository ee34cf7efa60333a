"""The units of systemd/ under a real systemd as PID 1 (systemdbox.py; issue #14): socket activation by the first
kcat connection, READY and the STATUS text in `systemctl show`, native journal entries with priorities and structured fields, the
hardened skeind.service running as its dynamic user, a SIGSTOPped skeind restarted by the watchdog with its data
intact, and `systemctl stop` writing the clean-shutdown marker. The host-built binaries are bound in at
/opt/skein/bin and the units' /usr/bin paths pointed there; everything else is the units as shipped, except a
shorter WatchdogSec= in a drop-in so the test waits seconds, not half a minute."""

from __future__ import annotations

import pytest

import re

from conftest import REPO, skeind_path, wait_until
from systemdbox import BoxFactory, host_binaries, require_boxes

pytestmark = [pytest.mark.skeind_only("runs skeind's units"), pytest.mark.timeout(900)]

BIN = "/opt/skein/bin"


@pytest.fixture
def boxes(tmp_path):
    require_boxes()
    f = BoxFactory(tmp_path)
    yield f
    f.cleanup()


def install_units(box):
    for unit in sorted((REPO / "systemd").iterdir()):
        box.write_file("/etc/systemd/system/" + unit.name, unit.read_text().replace("/usr/bin/", BIN + "/"))
    box.write_file("/etc/skein/skeind.properties", (REPO / "config" / "skeind.properties").read_text())
    box.write_file("/etc/systemd/system/skeind.service.d/test.conf", "[Service]\nWatchdogSec=3\nRestartSec=0\n")
    box.systemctl("daemon-reload")


def show(box, unit: str, *props: str) -> dict[str, str]:
    res = box.systemctl("show", "--property=" + ",".join(props), unit)
    return dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)


def security_score(box, unit: str) -> float:
    """`systemd-analyze security UNIT` as a user runs it, against the running manager."""
    out = box.exec("systemd-analyze", "security", "--no-pager", unit, check=False).stdout
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
    assert m, out[-2000:]
    print("%s: systemd-analyze security %s (in the box)" % (unit, m.group(1)))
    return float(m.group(1))


def kcat(box, *args: str, input: str | None = None) -> str:
    return box.exec_in_net("kcat", "-b", "127.0.0.1:9092", "-X", "socket.timeout.ms=20000", *args,
                           input=input, timeout=60).stdout


def test_skeind_units_socket_activation_status_watchdog_and_clean_stop(boxes):
    settings = host_binaries(skeind_path())
    box = boxes.new(ro_binds={**settings["ro_binds"], str(skeind_path().parent): BIN},
                    extra_packages=settings["extra_packages"]).boot()
    install_units(box)
    box.systemctl("enable", "--now", "skeind.socket", "skeind-metrics.socket")
    assert show(box, "skeind.service", "ActiveState")["ActiveState"] == "inactive"

    # The first connection starts skeind; kcat waits on the socket meanwhile.
    kcat(box, "-P", "-t", "boxed", "-p", "0", input="".join("record %d\n" % i for i in range(10)))
    state = show(box, "skeind.service", "ActiveState", "StatusText", "MainPID", "NRestarts", "User")
    assert state["ActiveState"] == "active", state
    assert "partitions" in state["StatusText"] and "connections" in state["StatusText"], state
    assert "socket from systemd" in box.exec("journalctl", "--no-pager", "-u", "skeind").stdout
    status = box.systemctl("status", "skeind", check=False).stdout
    assert "Status: \"" in status and "partitions" in status, status
    # It runs as a dynamic user, not root.
    uid = box.exec("stat", "-c", "%u", "/proc/%s" % state["MainPID"]).stdout.strip()
    assert uid != "0", "skeind runs as root"
    assert security_score(box, "skeind.service") <= 2.0

    # Native journal entries: the storage notice is priority 5, the listener line 6, no `<N>` prefix is left in
    # the message, and each entry names its code location and identifier as structured fields.
    def entry_of(text: str) -> dict[str, str] | None:
        out = box.exec("journalctl", "--no-pager", "-u", "skeind", "-o", "export").stdout
        for entry in out.split("\n\n"):
            fields = dict(l.split("=", 1) for l in entry.splitlines() if "=" in l)
            if text in fields.get("MESSAGE", ""):
                assert not fields["MESSAGE"].startswith("<"), fields["MESSAGE"]
                return fields
        return None
    listening = wait_until(lambda: entry_of("skeind listening on"), 10, "the listening line")
    assert listening["PRIORITY"] == "6"
    assert listening["SYSLOG_IDENTIFIER"] == "skeind" and listening["CODE_FILE"].endswith(".swift"), listening
    assert int(listening["CODE_LINE"]) > 0 and listening["SKEIN_MODULE"] == "skeind", listening
    assert entry_of("checked every record")["PRIORITY"] == "5"
    assert "checked every record" in box.exec("journalctl", "--no-pager", "-u", "skeind", "-p", "notice").stdout

    # SIGSTOP: no more WATCHDOG=1, so systemd kills and restarts it (WatchdogSec=3 here); the data stays.
    box.exec("kill", "-STOP", state["MainPID"])
    restarted = wait_until(
        lambda: (s := show(box, "skeind.service", "ActiveState", "MainPID", "NRestarts"))["NRestarts"] != state[
            "NRestarts"] and s["ActiveState"] == "active" and s, 60, "the watchdog to restart skeind")
    assert restarted["MainPID"] != state["MainPID"]
    assert "watchdog timeout" in box.exec("journalctl", "--no-pager", "-u", "skeind").stdout.lower()
    lines = kcat(box, "-C", "-q", "-t", "boxed", "-p", "0", "-o", "beginning", "-e", "-f", "%s\n").splitlines()
    assert lines == ["record %d" % i for i in range(10)]

    # systemctl stop: SIGTERM, STOPPING=1, a clean shutdown marker in the state directory.
    box.systemctl("stop", "skeind.service")
    assert show(box, "skeind.service", "ActiveState", "Result")["Result"] == "success"
    assert box.exec("test", "-e", "/var/lib/skein/.skein-clean-shutdown", check=False).returncode == 0


AGENT_CONFIG = """\
[agent]
bootstrap = "127.0.0.1:9092"
name = "box"

[delivery]
topic = "logs"

[sources.journald.system]
start_at = "beginning"

[sources.syslog.local]
udp = ["fd:syslog-udp"]
tcp = ["fd:syslog-tcp"]
unix = ["fd:syslog-unix"]
"""


def test_agent_units_ship_the_journal_and_socket_activated_syslog(boxes):
    """skein-agent.service with the syslog socket units, against the socket-activated skeind: entries a service
    writes to the journal and `logger` lines sent to the agent's unix socket reach `logs`, where `skein logs -u`
    finds them; the agent runs as its dynamic user in the systemd-journal group."""
    settings = host_binaries(skeind_path())
    box = boxes.new(ro_binds={**settings["ro_binds"], str(skeind_path().parent): BIN},
                    extra_packages=settings["extra_packages"]).boot()
    install_units(box)
    box.write_file("/etc/skein/skein-agent.toml", AGENT_CONFIG)
    box.systemctl("enable", "--now", "skeind.socket", "skeind-metrics.socket", "skein-agent-syslog.socket",
                  "skein-agent-syslog-tcp.socket", "skein-agent-syslog-unix.socket")
    box.systemctl("start", "skein-agent.service")
    state = wait_until(lambda: (s := show(box, "skein-agent.service", "ActiveState", "StatusText", "MainPID"))[
        "ActiveState"] == "active" and s, 60, "skein-agent to be ready")
    assert "journald.system" in state["StatusText"] and "syslog.local" in state["StatusText"], state
    groups = box.exec("grep", "^Groups:", "/proc/%s/status" % state["MainPID"]).stdout
    journal_gid = box.exec("getent", "group", "systemd-journal").stdout.split(":")[2]
    assert journal_gid in groups.split(), groups
    assert security_score(box, "skein-agent.service") <= 3.0
    # Log metadata becomes journal fields: the recovery line is found by its topic.
    recovered = wait_until(lambda: box.exec("journalctl", "--no-pager", "-u", "skein-agent", "-o", "cat",
                                            "SKEIN_TOPIC=logs", check=False).stdout, 30, "a SKEIN_TOPIC=logs entry")
    assert "recovered positions from the partition tail" in recovered, recovered

    box.run_unit("hello-box", "/bin/sh", "-c", "for i in 1 2 3; do echo hello from the box $i; done", wait=True)
    box.exec("logger", "-u", "/run/skein/syslog.sock", "-t", "boxlogger", "via the unix socket")

    def logs(*args: str) -> list[str]:
        res = box.exec(BIN + "/skein", "logs", "-t", "logs", "-o", "cat", "--bootstrap", "127.0.0.1:9092", *args,
                       check=False, timeout=60)
        return res.stdout.splitlines() if res.returncode == 0 else []
    # systemd's own lines about the unit ("Started hello-box.service", "Deactivated") are shown too, as
    # journalctl -u shows them.
    got = wait_until(lambda: len(l := [x for x in logs("-u", "hello-box") if x.startswith("hello from the box")]) >= 3 and l,
                     60, "the journal entries in skein logs")
    assert got == ["hello from the box %d" % i for i in (1, 2, 3)]
    assert wait_until(lambda: [l for l in logs("-u", "boxlogger") if "via the unix socket" in l], 60,
                      "the logger line in skein logs")

    # systemctl reload (SIGHUP): the same process restarts its sources, takes the socket-activated unix socket
    # up again, and sends nothing twice.
    box.systemctl("reload", "skein-agent.service")
    wait_until(lambda: "reload: " in box.exec("journalctl", "-u", "skein-agent", "--no-pager", check=False).stdout,
               30, "the agent to log the reload")
    after = wait_until(lambda: (s := show(box, "skein-agent.service", "ActiveState", "MainPID"))[
        "ActiveState"] == "active" and s, 60, "skein-agent active after the reload")
    assert after["MainPID"] == state["MainPID"], (after, state)
    box.exec("logger", "-u", "/run/skein/syslog.sock", "-t", "boxlogger", "after the reload")
    assert wait_until(lambda: [l for l in logs("-u", "boxlogger") if "after the reload" in l], 60,
                      "the logger line sent after the reload")
    assert [x for x in logs("-u", "hello-box") if x.startswith("hello from the box")] == got
    assert len([l for l in logs("-u", "boxlogger") if "via the unix socket" in l]) == 1
    box.systemctl("stop", "skein-agent.service")
    assert show(box, "skein-agent.service", "Result")["Result"] == "success"
