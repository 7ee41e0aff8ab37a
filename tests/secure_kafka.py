"""An Apache Kafka broker that also listens with SASL_SSL and asks clients for a certificate.

The test makes its own CA, broker and client certificates (openssl), PLAIN users in the
listener's JAAS configuration and SCRAM-SHA-512 users at format time. Inter-broker and
controller traffic stay on loopback plaintext; clients use the secured listener.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from kafka_broker import KafkaBroker, free_port

USER, PASSWORD = "alice", "alice-secret"


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_tls(directory: Path) -> dict[str, Path]:
    """A CA, a broker certificate for 127.0.0.1 and a client certificate, PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {name: directory / f"{name}.pem" for name in
             ("ca", "ca-key", "broker", "broker-key", "client", "client-key", "broker-keystore")}
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=driftstream-test-ca", "-keyout", str(files["ca-key"]), "-out", str(files["ca"]))
    for name, subject, extension in (
            ("broker", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
            ("client", f"/CN={USER}", "extendedKeyUsage=clientAuth")):
        request = directory / f"{name}.csr"
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                "-keyout", str(files[f"{name}-key"]), "-out", str(request))
        extensions = request.with_suffix(".ext")
        extensions.write_text(extension + "\n")
        openssl("x509", "-req", "-in", str(request), "-CA", str(files["ca"]), "-CAkey", str(files["ca-key"]),
                "-CAcreateserial", "-days", "2", "-out", str(files[name]), "-extfile", str(extensions))
    # Kafka's PEM keystore: the private key (PKCS#8), then the certificate chain.
    files["broker-keystore"].write_text(files["broker-key"].read_text() + files["broker"].read_text()
                                        + files["ca"].read_text())
    return files


class SecureKafkaBroker(KafkaBroker):
    def __init__(self) -> None:
        super().__init__()
        self.secure_port = free_port()
        self.tls = make_tls(self.dir / "tls")

    @property
    def secure_bootstrap(self) -> str:
        return f"127.0.0.1:{self.secure_port}"

    def properties(self) -> list[str]:
        plain = (f'org.apache.kafka.common.security.plain.PlainLoginModule required username="{USER}" '
                 f'password="{PASSWORD}" user_{USER}="{PASSWORD}";')
        replaced = {
            "listeners": f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port},SASL_SSL://127.0.0.1:{self.secure_port}",
            "advertised.listeners": f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port},"
                                    f"SASL_SSL://127.0.0.1:{self.secure_port}",
            "listener.security.protocol.map": "listener.security.protocol.map=CONTROLLER:PLAINTEXT,"
                                              "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
        }
        base = [replaced.get(line.split("=", 1)[0], line) for line in super().properties()]
        return base + [
            "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
            f"listener.name.sasl_ssl.plain.sasl.jaas.config={plain}",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type=PEM", f"ssl.keystore.location={self.tls['broker-keystore']}",
            "ssl.truststore.type=PEM", f"ssl.truststore.location={self.tls['ca']}",
            "ssl.client.auth=required",
        ]

    def format_options(self) -> list[str]:
        return ["--add-scram", f"SCRAM-SHA-512=[name={USER},password={PASSWORD}]"]

    def client_env(self, mechanism: str = "SCRAM-SHA-512", password: str = PASSWORD) -> dict[str, str]:
        """The env vars a driftstream service needs to use the secured listener."""
        return {"KAFKA_BOOTSTRAP_SERVERS": self.secure_bootstrap, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": mechanism, "KAFKA_SASL_USERNAME": USER,
                "KAFKA_SASL_PASSWORD": password,
                "KAFKA_SSL_CA_FILE": str(self.tls["ca"]), "KAFKA_SSL_CERT_FILE": str(self.tls["client"]),
                "KAFKA_SSL_KEY_FILE": str(self.tls["client-key"])}
