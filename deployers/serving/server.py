"""`python -m deployers.serving`: serve an app dir (score.py + model/) over HTTP.

    python -m deployers.serving --app-dir DIR --host 127.0.0.1 --port P
        [--key-file F | --no-auth] [--workers N] [--max-batch 64] [--max-wait-ms 0]
        [--max-body-mb 10] [--timeout-s 60] [--log-file F] [--allow-public]

One worker: uvicorn (httptools parser, uvloop when installed) in this process,
the model on a scoring thread. N workers: this process binds the socket and
supervises N such processes sharing it (see supervisor.py). Prints exactly one
line `READY http://HOST:PORT` to stdout once the model is loaded; logs go to
--log-file or stderr. Imports stay minimal: the scoring script decides what
else loads (cold start is part of the contract).
"""
from __future__ import annotations

import argparse
import ipaddress
import logging
import logging.handlers
import os
import socket
import stat
import sys
from pathlib import Path
from typing import Optional

log = logging.getLogger("deployers.serving")

EXIT_BAD_INPUT = 2
EXIT_INIT_FAILED = 3


class UsageError(Exception):
    """Bad command line or environment: one line on stderr, exit code 2."""


def default_workers() -> int:
    """DEPLOY_ADVISOR_WORKERS (set by the images from the instance size) or the usable cores."""
    env = os.environ.get("DEPLOY_ADVISOR_WORKERS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise UsageError(f"DEPLOY_ADVISOR_WORKERS must be a whole number (got {env!r})") from None
        if n >= 1:
            return min(n, 256)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m deployers.serving",
                                description="Serve a scoring app dir (score.py + model/) over HTTP.")
    p.add_argument("--app-dir", required=True, type=Path, help="folder with score.py, model/ and serving.json")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (loopback unless --allow-public)")
    p.add_argument("--port", type=int, default=5001, help="TCP port (0 = any free port)")
    auth = p.add_mutually_exclusive_group(required=True)
    auth.add_argument("--key-file", type=Path, help="file holding the key clients send as 'Authorization: Bearer <key>'")
    auth.add_argument("--no-auth", action="store_true", help="accept requests without a key")
    p.add_argument("--allow-public", action="store_true", help="allow binding a non-loopback address (containers)")
    p.add_argument("--workers", type=int, default=0,
                   help="worker processes (0 = DEPLOY_ADVISOR_WORKERS or the usable cores)")
    p.add_argument("--max-batch", type=int, default=64, help="most requests scored in one predict call")
    p.add_argument("--max-wait-ms", type=float, default=0.0,
                   help="extra wait for a batch to fill (0 = batch only what is already queued)")
    p.add_argument("--max-queue", type=int, default=1000, help="queued requests per worker before 503")
    p.add_argument("--max-body-mb", type=float, default=10.0, help="largest request body (413 above)")
    p.add_argument("--timeout-s", type=float, default=None,
                   help="scoring timeout per request, 504 above (default: DEPLOY_ADVISOR_TIMEOUT_S or 60)")
    p.add_argument("--max-header-kb", type=int, default=32, help="largest request line + headers (431 above)")
    p.add_argument("--header-timeout-s", type=float, default=10.0,
                   help="a request's headers must arrive within this (408 and closed after)")
    p.add_argument("--body-timeout-s", type=float, default=30.0,
                   help="a request's body must arrive within this after its headers (408 and closed after)")
    p.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto", help="event loop implementation")
    p.add_argument("--log-file", type=Path, help="append logs here instead of stderr")
    p.add_argument("--log-max-mb", type=float, default=10.0,
                   help="rotate the log file at this size, keeping 2 old files (0 = never rotate)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.add_argument("--access-log", action="store_true", help="log one line per /score request")
    p.add_argument("--no-warmup", action="store_true", help="skip the warm-up call with serving.json's input example")
    p.add_argument("--cpu-affinity", help=argparse.SUPPRESS)  # e.g. "1" or "0,2": pin (benchmarks)
    # internal: set by the supervisor for its worker processes
    p.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    p.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    return p


def default_timeout() -> float:
    """DEPLOY_ADVISOR_TIMEOUT_S (set by the aks manifests for long requests) or 60 s."""
    env = os.environ.get("DEPLOY_ADVISOR_TIMEOUT_S", "").strip()
    if not env:
        return 60.0
    try:
        return float(env)
    except ValueError:
        raise UsageError(f"DEPLOY_ADVISOR_TIMEOUT_S must be a number of seconds (got {env!r})") from None


def validate(args: argparse.Namespace) -> None:
    """Fail fast, in one line, before anything is loaded."""
    if args.timeout_s is None:
        args.timeout_s = default_timeout()
    if not args.app_dir.is_dir():
        raise UsageError(f"--app-dir {args.app_dir}: no such folder")
    if not (args.app_dir / "score.py").is_file():
        raise UsageError(f"--app-dir {args.app_dir}: no score.py in it (build it with deployers.scoring.build_app_dir)")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0-65535 (got {args.port})")
    if args.workers < 0 or args.workers > 256:
        raise UsageError(f"--workers must be 0-256 (got {args.workers})")
    if not 1 <= args.max_batch <= 100_000:
        raise UsageError(f"--max-batch must be 1-100000 (got {args.max_batch})")
    if not 0 <= args.max_wait_ms <= 10_000:
        raise UsageError(f"--max-wait-ms must be 0-10000 (got {args.max_wait_ms})")
    if not 1 <= args.max_queue <= 1_000_000:
        raise UsageError(f"--max-queue must be 1-1000000 (got {args.max_queue})")
    if not 0 < args.max_body_mb <= 4096:
        raise UsageError(f"--max-body-mb must be > 0 and <= 4096 (got {args.max_body_mb})")
    if not 0 < args.timeout_s <= 86_400:
        raise UsageError(f"--timeout-s must be > 0 and <= 86400 (got {args.timeout_s})")
    if not 1 <= args.max_header_kb <= 1024:
        raise UsageError(f"--max-header-kb must be 1-1024 (got {args.max_header_kb})")
    for flag, value in (("--header-timeout-s", args.header_timeout_s), ("--body-timeout-s", args.body_timeout_s)):
        if not 0 < value <= 3600:
            raise UsageError(f"{flag} must be > 0 and <= 3600 (got {value})")
    if not 0 <= args.log_max_mb <= 100_000:
        raise UsageError(f"--log-max-mb must be 0-100000 (got {args.log_max_mb})")
    check_host(args.host, args.allow_public)


def check_host(host: str, allow_public: bool) -> None:
    if host == "localhost":
        return
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(f"--host must be an IP address (got {host!r})") from None
    if not addr.is_loopback and not allow_public:
        raise UsageError(f"refusing to bind {host}: not a loopback address (pass --allow-public inside a container)")


def read_key(path: Path) -> bytes:
    """The key file's first line; never echoed anywhere."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--key-file {path}: cannot read ({exc.strerror or exc.__class__.__name__})") from None
    key = raw.strip().split(b"\n", 1)[0].strip() if raw.strip() else b""
    if len(key) < 16:
        raise UsageError(f"--key-file {path}: the key must be at least 16 characters")
    if any(c < 0x21 or c > 0x7E for c in key):
        raise UsageError(f"--key-file {path}: the key must be printable ASCII without spaces")
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("key file %s is readable by other users; chmod 600 it", path)
    except OSError:
        pass
    return key


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Size-capped log shared by a supervisor and its workers: every process checks the file's
    size on disk (not its own position), rotates under a lock, and follows a rotation another
    process made (the path's inode changed) instead of writing on into the old file."""

    def _open(self):  # noqa: ANN202 - every log file is born 0600 (requests' ids, errors: not for other users)
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: N802 - logging's name
        if self.stream is None:
            return False
        try:
            on_disk = os.stat(self.baseFilename)
            if on_disk.st_ino != os.fstat(self.stream.fileno()).st_ino:
                self.stream.close()
                self.stream = self._open()  # someone else rotated: write to the new file
                on_disk = os.stat(self.baseFilename)
            return self.maxBytes > 0 and on_disk.st_size + len(self.format(record)) + 1 > self.maxBytes
        except OSError:
            return False

    def doRollover(self) -> None:  # noqa: N802
        import fcntl

        with os.fdopen(os.open(self.baseFilename + ".lock", os.O_WRONLY | os.O_CREAT, 0o600), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if os.stat(self.baseFilename).st_size >= self.maxBytes * 0.9:  # not rotated meanwhile
                    super().doRollover()
                else:
                    self.stream.close()
                    self.stream = self._open()
            except OSError:
                pass


def setup_logging(log_file: Optional[Path], level: str, max_mb: float = 10.0) -> None:
    handler: logging.Handler
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = SharedRotatingFileHandler(log_file, maxBytes=int(max_mb * 1024 * 1024), backupCount=2,
                                            encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [{os.getpid()}] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True


def bind(host: str, port: int) -> socket.socket:
    """Listening socket created with IPPROTO_TCP so asyncio turns Nagle off on every accepted
    connection (a protocol-0 socket makes it skip TCP_NODELAY: ~40 ms stalls at concurrency 1)."""
    host = "127.0.0.1" if host == "localhost" else host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    return sock


def url_for(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        setup_logging(args.log_file, args.log_level, args.log_max_mb)
        validate(args)
        args.app_dir = args.app_dir.resolve()
        key = read_key(args.key_file) if args.key_file else None
        if args.cpu_affinity:
            try:
                os.sched_setaffinity(0, {int(c) for c in args.cpu_affinity.split(",")})
            except (ValueError, OSError) as exc:
                raise UsageError(f"--cpu-affinity {args.cpu_affinity}: {exc}") from None
        workers = args.workers or default_workers()
        if args.listen_fd is not None:  # a supervised worker
            sock = socket.socket(fileno=args.listen_fd)
        else:
            sock = bind(args.host, args.port)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    if workers > 1 and args.listen_fd is None:
        from .supervisor import supervise

        return supervise(args, sock, workers, argv if argv is not None else sys.argv[1:])
    from .worker import serve

    return serve(args, sock, key)
