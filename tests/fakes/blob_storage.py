"""In-memory fake of the Azure Blob Storage REST API (the calls azure-storage-blob makes to upload).

Served through tests/fakes/tls_proxy.py for clients that the code under test cannot give a
`transport=` (azure-ai-ml builds its own BlobServiceClient for model / code uploads). It keeps
accounts -> containers -> blobs (bytes, metadata, content type, MD5) and checks what the
service checks: SharedKey signatures against the account key, SAS tokens it issued, bearer
tokens it was told to accept; Content-MD5; `If-None-Match: *`. Unknown operations answer
501 so an SDK change shows up as a clear failure instead of a silently wrong fake.

Covered: Get Blob Properties (HEAD), Get Blob (whole or a byte range: 206 + Content-Range), Put Blob,
Set Blob Metadata, Put Block, Put Block List, List Blobs (flat or one level with a delimiter, prefix).
`put_blob` seeds a blob, `delete_blobs` removes some, `gets()` lists every read of a blob's content.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Optional
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

VERSION = "2025-01-05"


@dataclass
class Blob:
    data: bytes
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"
    content_md5: str = ""
    etag: str = field(default_factory=lambda: f'"0x{uuid.uuid4().hex[:16].upper()}"')
    last_modified: str = field(default_factory=lambda: formatdate(usegmt=True))


@dataclass
class BlobRequest:
    method: str
    account: str
    container: str
    blob: str
    comp: str
    status: int
    auth: str  # "sharedkey" | "sas" | "bearer" | "none"


@dataclass
class Account:
    name: str
    key: str = field(default_factory=lambda: base64.b64encode(uuid.uuid4().bytes * 2).decode())
    containers: dict[str, dict[str, Blob]] = field(default_factory=dict)
    sas_tokens: set[str] = field(default_factory=set)  # the `sig` of every SAS token handed out
    blocks: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)


class FakeBlobStorage:
    """Blob accounts keyed by name; `handle` is a tls_proxy Handler for `{account}.blob.core.windows.net`."""

    def __init__(self, suffix: str = "blob.core.windows.net"):
        self.suffix = suffix
        self.accounts: dict[str, Account] = {}
        self.requests: list[BlobRequest] = []
        self.bearer_tokens: set[str] = set()  # Entra tokens accepted (identity-based datastores)
        self._lock = threading.RLock()

    # ---- seeding and assertions ------------------------------------------------
    def account(self, name: str, *containers: str) -> Account:
        with self._lock:
            acct = self.accounts.setdefault(name, Account(name))
            for c in containers:
                acct.containers.setdefault(c, {})
            return acct

    def issue_sas(self, account: str) -> str:
        """A SAS query string the fake will accept for `account` (as listSecrets would hand out)."""
        sig = base64.b64encode(uuid.uuid4().bytes).decode()
        with self._lock:
            self.accounts[account].sas_tokens.add(sig)
        return f"sv={VERSION}&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&spr=https&sig={quote(sig, safe='')}"

    def put_blob(self, account: str, container: str, name: str, data: bytes) -> Blob:
        """Seed a blob as an upload would leave it (MD5 set); the account and container are created."""
        blob = Blob(data, content_md5=base64.b64encode(hashlib.md5(data).digest()).decode())
        with self._lock:
            self.account(account, container).containers[container][name] = blob
        return blob

    def delete_blobs(self, account: str, container: str, prefix: str) -> int:
        """Remove the blobs under `prefix` (a test's "blobs went missing"); returns how many."""
        with self._lock:
            store = self.accounts[account].containers[container]
            gone = [k for k in store if k.startswith(prefix)]
            for k in gone:
                del store[k]
            return len(gone)

    def gets(self) -> list[BlobRequest]:
        """Every Get Blob (a blob's content was read): what a read-only plan must never do."""
        return [r for r in self.requests if r.method == "GET" and r.blob and not r.comp]

    def blobs(self, account: str, container: str, prefix: str = "") -> dict[str, Blob]:
        with self._lock:
            return {k: v for k, v in sorted(self.accounts[account].containers[container].items())
                    if k.startswith(prefix)}

    def secrets(self) -> list[str]:
        """Every key / SAS signature this fake knows, raw and URL-encoded (a leaked SAS URL carries the
        encoded form): none may appear in our outputs."""
        with self._lock:
            raw = [a.key for a in self.accounts.values()] + [s for a in self.accounts.values() for s in a.sas_tokens]
        return sorted(set(raw) | {quote(s, safe="") for s in raw})

    # ---- the REST API ------------------------------------------------------------
    def handle(self, method: str, host: str, target: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        account_name = host.split(".", 1)[0].lower()
        parts = urlsplit(target)
        raw_path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        container, _, blob = unquote(raw_path.lstrip("/")).partition("/")
        comp = query.get("comp", "")
        h = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            acct = self.accounts.get(account_name)
            if acct is None or not host.lower().endswith("." + self.suffix):
                return self._log(method, account_name, container, blob, comp, "none",
                                 self._error(404, "AccountNotFound", f"no fake account {account_name}"))
            auth = self._authenticate(acct, method, raw_path, query, h)
            if auth.startswith("!"):
                return self._log(method, acct.name, container, blob, comp, "none",
                                 self._error(403, "AuthenticationFailed", auth[1:]))
            reply = self._operation(acct, method, container, blob, query, h, body, _metadata(headers))
            return self._log(method, acct.name, container, blob, comp, auth, reply)

    def _log(self, method: str, account: str, container: str, blob: str, comp: str, auth: str,
             reply: tuple[int, dict[str, str], bytes]) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(BlobRequest(method, account, container, blob, comp, reply[0], auth))
        return reply

    def _authenticate(self, acct: Account, method: str, raw_path: str, query: dict[str, str],
                      h: dict[str, str]) -> str:
        value = h.get("authorization", "")
        if value.startswith("SharedKey "):
            name, _, sig = value[len("SharedKey "):].partition(":")
            expected = _shared_key_signature(acct, method, raw_path, query, h)
            if name != acct.name or not hmac.compare_digest(sig, expected):
                return "!Server failed to authenticate the request: SharedKey signature mismatch"
            return "sharedkey"
        if value.lower().startswith("bearer "):
            return "bearer" if value[7:] in self.bearer_tokens else "!bearer token not accepted"
        if "sig" in query:
            return "sas" if query["sig"] in acct.sas_tokens else "!Signature did not match (SAS)"
        return "!NoAuthenticationInformation"

    def _operation(self, acct: Account, method: str, container: str, blob: str, query: dict[str, str],
                   h: dict[str, str], body: bytes, meta: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        comp = query.get("comp", "")
        store = acct.containers.get(container)
        if store is None:
            return self._error(404, "ContainerNotFound", f"The specified container {container} does not exist.")
        if not blob:
            if method == "GET" and query.get("restype") == "container" and comp == "list":
                return self._list(acct, container, store, query.get("prefix", ""), query.get("delimiter", ""))
            return self._error(501, "NotImplemented", f"fake: container operation {method} comp={comp}")
        existing = store.get(blob)
        if method in ("HEAD", "GET") and not comp:
            if existing is None:
                return self._error(404, "BlobNotFound", "The specified blob does not exist.")
            headers = self._props(existing)
            if method == "HEAD":
                return 200, headers, b""
            wanted = re.match(r"bytes=(\d+)-(\d*)$", h.get("x-ms-range") or h.get("range") or "")
            if wanted:  # a ranged read (azure-storage-blob downloads in chunks): 206 + Content-Range
                size = len(existing.data)
                start = int(wanted[1])
                end = min(int(wanted[2]) if wanted[2] else size - 1, size - 1)
                if size and start >= size:
                    return self._error(416, "InvalidRange", "The range specified is invalid for the current size.")
                part = existing.data[start:end + 1]
                headers.pop("Content-MD5", None)
                headers.update({"Content-Length": str(len(part)),
                                "Content-Range": f"bytes {start}-{max(end, start)}/{size}" if size else "bytes */0"})
                return 206, headers, part
            return 200, headers, existing.data
        if method == "PUT" and not comp:
            if h.get("x-ms-blob-type") != "BlockBlob":
                return self._error(400, "InvalidHeaderValue", "only BlockBlob is faked")
            return self._put(store, blob, existing, h, body, meta)
        if method == "PUT" and comp == "metadata":
            if existing is None:
                return self._error(404, "BlobNotFound", "The specified blob does not exist.")
            existing.metadata = meta
            existing.etag = Blob(b"").etag
            return 200, self._write_headers(existing), b""
        if method == "PUT" and comp == "block":
            if not _md5_ok(h, body):
                return self._error(400, "Md5Mismatch", "The MD5 value specified in the request did not match.")
            acct.blocks.setdefault((container, blob), {})[query.get("blockid", "")] = body
            return 201, {"x-ms-request-server-encrypted": "true", **self._common()}, b""
        if method == "PUT" and comp == "blocklist":
            staged = acct.blocks.pop((container, blob), {})
            ids = re.findall(rb"<(?:Latest|Uncommitted|Committed)>([^<]*)</", body)
            missing = [i for i in ids if i.decode() not in staged]
            if missing:
                return self._error(400, "InvalidBlockList", "The specified block list is invalid.")
            data = b"".join(staged[i.decode()] for i in ids)
            return self._put(store, blob, existing, {**h, "content-md5": ""}, data, meta, blocklist=True)
        return self._error(501, "NotImplemented", f"fake: blob operation {method} comp={comp}")

    def _put(self, store: dict[str, Blob], blob: str, existing: Optional[Blob], h: dict[str, str], body: bytes,
             meta: dict[str, str], blocklist: bool = False) -> tuple[int, dict[str, str], bytes]:
        if h.get("if-none-match") == "*" and existing is not None:
            return self._error(409, "BlobAlreadyExists", "The specified blob already exists.")
        if not blocklist and not _md5_ok(h, body):
            return self._error(400, "Md5Mismatch", "The MD5 value specified in the request did not match.")
        prefix = "x-ms-blob-" if blocklist else ""
        new = Blob(body, meta, h.get(f"{prefix}content-type") or h.get("x-ms-blob-content-type")
                   or "application/octet-stream", base64.b64encode(hashlib.md5(body).digest()).decode())
        store[blob] = new
        return 201, {**self._write_headers(new), "Content-MD5": new.content_md5,
                     "x-ms-request-server-encrypted": "true"}, b""

    def _list(self, acct: Account, container: str, store: dict[str, Blob], prefix: str, delimiter: str = ""):
        if delimiter:  # one level: blobs directly under prefix, plus <BlobPrefix> for each "folder"
            folders = sorted({prefix + n[len(prefix):].split(delimiter, 1)[0] + delimiter for n in store
                              if n.startswith(prefix) and delimiter in n[len(prefix):]})
            store = {n: b for n, b in store.items() if n.startswith(prefix) and delimiter not in n[len(prefix):]}
        else:
            folders = []
        items = "".join(
            f"<Blob><Name>{escape(n)}</Name><Properties><Last-Modified>{b.last_modified}</Last-Modified>"
            f"<Etag>{b.etag}</Etag><Content-Length>{len(b.data)}</Content-Length>"
            f"<Content-Type>{escape(b.content_type)}</Content-Type><BlobType>BlockBlob</BlobType></Properties>"
            "<Metadata>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in b.metadata.items()) + "</Metadata></Blob>"
            for n, b in sorted(store.items()) if n.startswith(prefix))
        items += "".join(f"<BlobPrefix><Name>{escape(f)}</Name></BlobPrefix>" for f in folders)
        xml = (f'<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://{acct.name}.'
               f'{self.suffix}/" ContainerName="{escape(container)}"><Prefix>{escape(prefix)}</Prefix>'
               f"<Blobs>{items}</Blobs><NextMarker /></EnumerationResults>")
        return 200, {"Content-Type": "application/xml", **self._common()}, xml.encode()

    # ---- replies -------------------------------------------------------------------
    @staticmethod
    def _common() -> dict[str, str]:
        return {"x-ms-request-id": str(uuid.uuid4()), "x-ms-version": VERSION, "Date": formatdate(usegmt=True)}

    def _write_headers(self, b: Blob) -> dict[str, str]:
        return {"ETag": b.etag, "Last-Modified": b.last_modified, **self._common()}

    def _props(self, b: Blob) -> dict[str, str]:
        out = {**self._write_headers(b), "Content-Length": str(len(b.data)), "Content-Type": b.content_type,
               "x-ms-blob-type": "BlockBlob", "x-ms-creation-time": b.last_modified, "x-ms-server-encrypted": "true",
               "x-ms-lease-status": "unlocked", "x-ms-lease-state": "available", "Accept-Ranges": "bytes"}
        if b.content_md5:
            out["Content-MD5"] = b.content_md5
        out.update({f"x-ms-meta-{k}": v for k, v in b.metadata.items()})
        return out

    def _error(self, status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
        xml = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
               f"<Message>{escape(message)}</Message></Error>")
        return status, {"Content-Type": "application/xml", "x-ms-error-code": code, **self._common()}, xml.encode()


def _metadata(headers: dict[str, str]) -> dict[str, str]:
    """x-ms-meta-* headers as sent: the service keeps the case of metadata names."""
    return {k[len("x-ms-meta-"):]: v for k, v in headers.items() if k.lower().startswith("x-ms-meta-")}


def _md5_ok(h: dict[str, str], body: bytes) -> bool:
    sent = h.get("content-md5")
    return not sent or sent == base64.b64encode(hashlib.md5(body).digest()).decode()


def _shared_key_signature(acct: Account, method: str, raw_path: str, query: dict[str, str], h: dict[str, str]) -> str:
    """The service side of Shared Key auth (learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key).

    x-ms-* headers are ordered with the service's own collation, which azure-storage-blob replicates in
    `_storage_header_sort`; reusing it only orders names, the HMAC is computed here with the account key.
    """
    from azure.storage.blob._shared.authentication import _storage_header_sort

    def std(name: str) -> str:
        v = h.get(name, "")
        return "" if (name == "content-length" and v == "0") else v

    names = ["content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
             "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range"]
    xms = _storage_header_sort([(k, v) for k, v in h.items() if k.startswith("x-ms-")])
    resource = f"/{acct.name}{raw_path}" + "".join(
        f"\n{k.lower()}:{v}" for k, v in sorted(query.items(), key=lambda kv: kv[0].lower()))
    to_sign = (method + "\n" + "\n".join(std(n) for n in names) + "\n"
               + "".join(f"{k}:{v}\n" for k, v in xms) + resource)
    digest = hmac.new(base64.b64decode(acct.key), to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
