"""scripts/package's Debian package in the systemd box (issue #14): `apt install ./skein_*.deb` on a fresh system
gives a socket-activated broker and a running agent that ships the box's journal into `logs` (shown by `skein logs -u`)
and its host metrics into `metrics`; installing a newer version over the running installation keeps the data
and the committed offsets; purging removes the package's files, its units' state and its data. The package is
built from the debug binaries under test (SKEIN_BIN_DIR), whose Swift runtime the box binds in; no network is
needed, as every dependency is in the box already."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, skeind_path, wait_until
from systemdbox import BoxFactory, host_binaries, require_boxes

pytestmark = [pytest.mark.skeind_only("packages skeind"), pytest.mark.timeout(900)]


@pytest.fixture
def boxes(tmp_path):
    require_boxes()
    f = BoxFactory(tmp_path)
    yield f
    f.cleanup()


def build_package(out: Path, version: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SKEIN_BIN_DIR=str(skeind_path().parent), SKEIN_VERSION=version,
               SKEIN_DEB_COMPRESSION="none")
    res = subprocess.run([str(REPO / "scripts" / "package"), str(out)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    deb = Path(res.stdout.strip().splitlines()[-1])
    assert deb.name == "skein_%s_amd64.deb" % version and deb.exists()
    return deb


GROUP_SCRIPT = """
import sys
from confluent_kafka import Consumer, Producer, TopicPartition
mode = sys.argv[1]
if mode == "write":
    p = Producer({"bootstrap.servers": "127.0.0.1:9092"})
    for i in range(5):
        p.produce("upgrade", value=b"kept %d" % i, partition=0)
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": "127.0.0.1:9092", "group.id": "upgrade-group", "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition("upgrade", 0, 5)], asynchronous=False)
    c.close()
c = Consumer({"bootstrap.servers": "127.0.0.1:9092", "group.id": "upgrade-group", "enable.auto.commit": False})
print(c.committed([TopicPartition("upgrade", 0)], timeout=20)[0].offset)
lo, hi = c.get_watermark_offsets(TopicPartition("upgrade", 0), timeout=20)
print(lo, hi)
c.close()
"""


def test_package_install_upgrade_and_purge(boxes, tmp_path):
    first = build_package(tmp_path / "v1", "0.1.0~test1")
    second = build_package(tmp_path / "v2", "0.1.0~test2")
    settings = host_binaries(skeind_path())
    box = boxes.new(ro_binds={**settings["ro_binds"], str(tmp_path): "/debs"},
                    extra_packages=settings["extra_packages"]).boot()

    # As the README says to: apt, with the package's dependencies already in the box (no network).
    box.exec("mkdir", "-p", "/var/cache/apt/archives/partial", "/var/lib/apt/lists/partial")
    apt = ("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
           "-o", "Dpkg::Options::=--force-confold")
    box.exec(*apt, "/debs/v1/" + first.name, timeout=180)
    for unit in ("skeind.socket", "skeind-metrics.socket", "skein-agent.service"):
        assert box.systemctl("is-enabled", unit, check=False).stdout.strip() == "enabled", unit
    # The agent's first connection starts the broker through its socket.
    wait_until(lambda: box.systemctl("is-active", "skeind.service", check=False).stdout.strip() == "active", 60,
               "skeind started by the agent's connection")
    wait_until(lambda: box.systemctl("is-active", "skein-agent.service", check=False).stdout.strip() == "active",
               60, "skein-agent ready")

    box.run_unit("hello-pkg", "/bin/sh", "-c", "echo packaged hello one; echo packaged hello two", wait=True)

    def logs(*args: str) -> list[str]:
        res = box.exec("skein", "logs", "-t", "logs", "-o", "cat", *args, check=False, timeout=60)
        return [l for l in res.stdout.splitlines() if l.startswith("packaged hello")] if res.returncode == 0 else []
    assert wait_until(lambda: len(l := logs("-u", "hello-pkg")) == 2 and l, 90, "journal lines in skein logs") \
        == ["packaged hello one", "packaged hello two"]
    wait_until(lambda: box.exec("skein", "consume", "-t", "metrics", "-n", "1", check=False, timeout=60).returncode
               == 0 and box.exec("skein", "consume", "-t", "metrics", "-n", "1", check=False).stdout.strip(),
               60, "a host-metrics record in metrics")

    # Upgrade over the running installation: data and committed offsets remain; the conffiles stay as edited.
    box.sh("echo '# edited by the admin' >> /etc/skein/skeind.properties")
    before = box.exec_in_net(sys.executable, "-c", GROUP_SCRIPT, "write", timeout=120).stdout.split()
    assert before == ["5", "0", "5"], before
    box.exec(*apt, "/debs/v2/" + second.name, timeout=180)
    assert "0.1.0~test2" in box.exec("dpkg-query", "-W", "skein").stdout
    wait_until(lambda: box.systemctl("is-active", "skeind.service", check=False).stdout.strip() == "active", 60,
               "skeind after the upgrade")
    after = box.exec_in_net(sys.executable, "-c", GROUP_SCRIPT, "read", timeout=120).stdout.split()
    assert after == ["5", "0", "5"], after
    assert "edited by the admin" in box.exec("cat", "/etc/skein/skeind.properties").stdout

    # Purge: binaries, units, configuration and data are gone, nothing of it runs.
    box.exec("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "purge", "-y", "skein", timeout=180)
    for path in ("/usr/bin/skeind", "/lib/systemd/system/skeind.service", "/etc/skein", "/var/lib/private/skein",
                 "/var/lib/skein", "/var/lib/private/skein-agent"):
        assert box.exec("test", "-e", path, check=False).returncode != 0, path
    assert box.systemctl("is-active", "skeind.service", check=False).stdout.strip() != "active"
    assert box.systemctl("is-active", "skeind.socket", check=False).stdout.strip() != "active"
