"""A local HTTPS "intercepting" proxy for SDK clients we cannot hand a `transport=`.

Some Azure SDK code builds its own clients (azure-ai-ml creates a BlobServiceClient for
`https://{account}.blob.core.windows.net` to upload model and code folders). Those clients
use azure-core's RequestsTransport, which honours HTTPS_PROXY and REQUESTS_CA_BUNDLE. So a
test points HTTPS_PROXY at this proxy on 127.0.0.1: the client opens a CONNECT tunnel, the
proxy terminates TLS with a certificate signed by a throwaway CA (trusted only through
REQUESTS_CA_BUNDLE / SSL_CERT_FILE), and hands each decrypted HTTP request to a handler
(e.g. tests/fakes/blob_storage.py). Nothing is resolved or forwarded: a CONNECT to a host
no handler claims, or a plain-HTTP proxy request, is refused with 403 and recorded in
`refused`, so a test can assert that nothing tried to reach anywhere else.

    with InterceptingProxy(tmp_path) as proxy:
        proxy.add(r"\\.blob\\.core\\.windows\\.net$", blob_fake.handle)
        proxy.environ()  # {"HTTPS_PROXY": ..., "REQUESTS_CA_BUNDLE": ...}: set them with monkeypatch
"""
from __future__ import annotations

import datetime as dt
import http.server
import re
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Pattern

# handler(method, host, target, headers, body) -> (status, headers, body); target is path + "?" + query
Handler = Callable[[str, str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


@dataclass
class ThrowawayCA:
    """A throwaway CA and one leaf certificate for the given host names (EC P-256: fast to make)."""
    hosts: list[str]
    folder: Path
    ca_file: Path = field(init=False)
    cert_file: Path = field(init=False)
    key_file: Path = field(init=False)

    def __post_init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = dt.datetime.now(dt.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "deploy-advisor test CA (throwaway)")])
        ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                           crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
              .add_extension(ca_ski, critical=False)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.hosts[0])]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in self.hosts]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.folder / "test-ca.pem"
        self.cert_file = self.folder / "server-cert.pem"
        self.key_file = self.folder / "server-key.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx


@dataclass
class Exchange:
    """One request that went through the tunnel, and the status it got."""
    method: str
    host: str
    target: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    def __repr__(self) -> str:
        return f"<{self.method} https://{self.host}{self.target.split('?')[0]} -> {self.status}>"


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "InterceptingProxy"


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    """CONNECT host:443 -> TLS handshake -> the same handler object then reads the tunnelled requests."""
    protocol_version = "HTTP/1.1"
    server: _Server
    tunnel_host: Optional[str] = None
    tunnel_handler: Optional[Handler] = None

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        return None

    def do_CONNECT(self) -> None:
        proxy = self.server.owner
        host, _, port = self.path.rpartition(":")
        handler = proxy.handler_for(host) if port == "443" else None
        if handler is None or self.tunnel_host is not None:
            proxy.refuse(f"CONNECT {self.path}")
            self.send_error(403, "fake proxy: no fake serves this host")
            self.close_connection = True
            return
        self.send_response(200, "Connection Established")
        self.end_headers()
        self.wfile.flush()
        try:
            tls = proxy.ca.server_context().wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        # from now on BaseHTTPRequestHandler.handle() reads requests from inside the tunnel
        self.connection = tls
        self.rfile = tls.makefile("rb")
        self.wfile = tls.makefile("wb")
        self.tunnel_host, self.tunnel_handler = host, handler
        self.close_connection = False

    def _tunnelled(self) -> None:
        proxy = self.server.owner
        if self.tunnel_host is None or self.tunnel_handler is None:  # plain-HTTP proxying: never forwarded
            proxy.refuse(f"{self.command} {self.path}")
            self.send_error(403, "fake proxy: plain HTTP is not forwarded")
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items()}
        ex = Exchange(self.command, self.tunnel_host, self.path, headers, body)
        try:
            status, out_headers, out_body = self.tunnel_handler(self.command, self.tunnel_host, self.path,
                                                                headers, body)
        except Exception as e:  # a bug in a fake must show as a 500, not a hung client
            status, out_headers, out_body = 500, {"Content-Type": "text/plain"}, f"fake crashed: {e!r}".encode()
        ex.status = status
        proxy.record(ex)
        self.send_response(status)
        length_header = "0"
        for k, v in out_headers.items():
            if k.lower() == "content-length":  # HEAD: the entity's length; otherwise computed below
                length_header = v
            else:
                self.send_header(k, v)
        self.send_header("Content-Length", length_header if self.command == "HEAD" else str(len(out_body)))
        self.end_headers()
        if self.command != "HEAD" and out_body:
            self.wfile.write(out_body)
        self.wfile.flush()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _tunnelled


class InterceptingProxy:
    """HTTPS proxy on 127.0.0.1 that answers tunnelled requests itself (see the module docstring)."""

    def __init__(self, folder: Path, hosts: tuple[str, ...] = ("*.blob.core.windows.net",)):
        self.ca = ThrowawayCA(list(hosts), Path(folder))
        self.exchanges: list[Exchange] = []
        self.refused: list[str] = []
        self._routes: list[tuple[Pattern[str], Handler]] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _ProxyHandler)
        self._server.owner = self
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, host_regex: str, handler: Handler) -> None:
        """Serve CONNECT tunnels to hosts matching the regex with `handler` (the cert must cover them)."""
        self._routes.append((re.compile(host_regex, re.I), handler))

    def handler_for(self, host: str) -> Optional[Handler]:
        return next((h for rx, h in self._routes if rx.search(host)), None)

    def record(self, ex: Exchange) -> None:
        with self._lock:
            self.exchanges.append(ex)

    def refuse(self, what: str) -> None:
        with self._lock:
            self.refused.append(what)

    def environ(self) -> dict[str, str]:
        """Variables that route requests-based clients here and trust only the test CA.

        Both spellings of each proxy variable: urllib prefers the lower-case one when both are set.
        NO_PROXY is emptied so a developer's `NO_PROXY=*` or `.windows.net` cannot bypass the fake.
        """
        env = {"REQUESTS_CA_BUNDLE": str(self.ca.ca_file), "SSL_CERT_FILE": str(self.ca.ca_file),
               "CURL_CA_BUNDLE": str(self.ca.ca_file)}
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
            env[name] = env[name.lower()] = self.url
        env["NO_PROXY"] = env["no_proxy"] = ""
        return env

    def start(self) -> "InterceptingProxy":
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-https-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "InterceptingProxy":
        return self.start()

    def __exit__(self, *args: Any) -> None:
        self.stop()

