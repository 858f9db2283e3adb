# ruff: noqa: S603, S607 - commands are built here from fixed tool names found on PATH
"""The cluster's certificates and keys, made with openssl in kubeadm's layout.

One CA signs every client and serving certificate; a second CA (front-proxy) signs the
aggregation layer's client; an RSA key pair signs service-account tokens.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

CA_DAYS = 3650
CERT_DAYS = 365


@dataclass(frozen=True)
class Certificate:
    name: str
    common_name: str
    organization: str | None = None
    sans: tuple[str, ...] = ()
    server: bool = False
    ca: str = "ca"


def _openssl(*arguments: str) -> None:
    subprocess.run(["openssl", *arguments], check=True, capture_output=True)


def _make_ca(directory: Path, name: str, common_name: str) -> None:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    if cert.exists():
        return
    _openssl("genrsa", "-out", str(key), "2048")
    _openssl(
        "req", "-x509", "-new", "-key", str(key), "-subj", f"/CN={common_name}",
        "-days", str(CA_DAYS), "-out", str(cert),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
    )  # fmt: skip


def _make_certificate(directory: Path, spec: Certificate) -> None:
    key, cert = directory / f"{spec.name}.key", directory / f"{spec.name}.crt"
    if cert.exists():
        return
    subject = (f"/O={spec.organization}" if spec.organization else "") + f"/CN={spec.common_name}"
    extensions = directory / f"{spec.name}.ext"
    lines = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={'serverAuth,clientAuth' if spec.server else 'clientAuth'}",
    ]
    if spec.sans:
        lines.append("subjectAltName=" + ",".join(spec.sans))
    extensions.write_text("\n".join(lines) + "\n")
    request = directory / f"{spec.name}.csr"
    _openssl("genrsa", "-out", str(key), "2048")
    _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(request))
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(directory / f"{spec.ca}.crt"),
        "-CAkey", str(directory / f"{spec.ca}.key"), "-CAcreateserial",
        "-days", str(CERT_DAYS), "-extfile", str(extensions), "-out", str(cert),
    )  # fmt: skip
    request.unlink()
    extensions.unlink()


def ensure(directory: Path, *, node_name: str, node_ip: str, service_ip: str) -> None:
    """Create whatever of the cluster's PKI is missing under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    _make_ca(directory, "ca", "bazaar-cluster-ca")
    _make_ca(directory, "front-proxy-ca", "bazaar-front-proxy-ca")
    api_sans = (
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local",
        "DNS:localhost",
        f"IP:{service_ip}",
        f"IP:{node_ip}",
        "IP:127.0.0.1",
    )
    for spec in (
        Certificate("apiserver", "kube-apiserver", sans=api_sans, server=True),
        Certificate("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
        Certificate("admin", "kubernetes-admin", "system:masters"),
        Certificate("controller-manager", "system:kube-controller-manager"),
        Certificate("scheduler", "system:kube-scheduler"),
        Certificate("kube-proxy", "system:kube-proxy"),
        Certificate("kubelet", f"system:node:{node_name}", "system:nodes"),
        Certificate(
            "kubelet-serving",
            node_name,
            sans=(f"DNS:{node_name}", f"IP:{node_ip}", "IP:127.0.0.1"),
            server=True,
        ),
        Certificate("front-proxy-client", "front-proxy-client", ca="front-proxy-ca"),
    ):
        _make_certificate(directory, spec)
    if not (directory / "sa.key").exists():
        _openssl("genrsa", "-out", str(directory / "sa.key"), "2048")
        _openssl(
            "rsa", "-in", str(directory / "sa.key"), "-pubout", "-out", str(directory / "sa.pub")
        )
