"""A throwaway CA and the certificates TLS tests need, made by openssl at test time (never committed):
a server certificate for 127.0.0.1/localhost, a second one (another serial) for reload tests, client
certificates for mTLS, an expired client certificate (openssl ca with explicit dates, no faketime) and one
from a CA the broker does not trust."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*args: str, cwd: Path):
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, "openssl %s failed:\n%s" % (" ".join(args), res.stderr)


class Certs:
    def __init__(self, d: Path):
        self.dir = d
        d.mkdir(parents=True, exist_ok=True)
        self.ca = self._ca("ca", "/CN=Skein Test CA")
        self.other_ca = self._ca("other-ca", "/CN=Untrusted CA")
        self.server = self.issue("server", "/O=Skein/CN=localhost", server=True)
        self.server2 = self.issue("server2", "/O=Skein/CN=localhost", server=True)
        self.alice = self.issue("alice", "/C=US/O=Acme/OU=ops/CN=alice")
        self.mallory = self.issue("mallory", "/CN=mallory", ca="other-ca")
        self.expired = self._expired("expired", "/O=Acme/CN=expired")

    def path(self, name: str) -> Path:
        return self.dir / name

    def _ca(self, name: str, subject: str) -> Path:
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".pem",
                 "-days", "2", "-subj", subject, "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)
        return self.dir / (name + ".pem")

    def _request(self, name: str, subject: str):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                 "-subj", subject, cwd=self.dir)

    def _extensions(self, name: str, server: bool) -> str:
        ext = self.dir / (name + ".ext")
        lines = ["basicConstraints=CA:FALSE", "keyUsage=digitalSignature,keyEncipherment"]
        if server:
            lines += ["subjectAltName=IP:127.0.0.1,DNS:localhost", "extendedKeyUsage=serverAuth"]
        else:
            lines += ["extendedKeyUsage=clientAuth"]
        ext.write_text("\n".join(lines) + "\n")
        return ext.name

    def issue(self, name: str, subject: str, server: bool = False, ca: str = "ca") -> Path:
        self._request(name, subject)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                 "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile",
                 self._extensions(name, server), cwd=self.dir)
        return self.dir / (name + ".pem")

    def _expired(self, name: str, subject: str) -> Path:
        """`openssl ca` takes explicit start and end dates: valid for one day in 2020."""
        self._request(name, subject)
        (self.dir / "index.txt").write_text("")
        (self.dir / "newcerts").mkdir(exist_ok=True)
        (self.dir / "ca.cnf").write_text("""
[ca]
default_ca = test_ca
[test_ca]
dir = .
database = index.txt
new_certs_dir = newcerts
serial = ca-ca.srl
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
organizationName = optional
""")
        (self.dir / "ca-ca.srl").write_text("1000\n")
        _openssl("ca", "-batch", "-config", "ca.cnf", "-in", name + ".csr", "-out", name + ".pem", "-notext",
                 "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
                 "-extfile", self._extensions(name, False), cwd=self.dir)
        return self.dir / (name + ".pem")

    def key(self, name: str) -> Path:
        return self.dir / (name + ".key")

    def serial(self, name: str) -> str:
        res = subprocess.run(["openssl", "x509", "-in", str(self.dir / (name + ".pem")), "-noout", "-serial"],
                             capture_output=True, text=True, check=True)
        return res.stdout.strip().split("=", 1)[1].lower()

    def key_material(self) -> list[str]:
        """Lines of every private key, to check that none reaches a log."""
        out = []
        for key in self.dir.glob("*.key"):
            out += [l for l in key.read_text().splitlines() if l and not l.startswith("-----")]
        return out
