"""Private PostgreSQL and Redis servers on free loopback ports, for the test command and benchmarks.

Nothing is pre-started on the project's machines, so the suite brings its own: Debian's `postgresql`
and `redis-server` (installed with apt-get when missing and the caller is root), a scratch
PostgreSQL cluster (trust auth, loopback only) and a Redis that keeps nothing on disk.

    python -m tests.support.servers [--durable] -- COMMAND [ARGS...]

starts a server for each of `DATABASE_URL` and `TEST_REDIS_URL` that the environment does not name,
runs COMMAND with both set (and `BENCH_DATABASE_SERVER`, `BENCH_REDIS_URL` for the benchmarks),
stops what it started (also on failure, Ctrl-C or SIGTERM) and exits with COMMAND's code. The test
cluster runs without fsync; `--durable` keeps PostgreSQL's defaults, as benchmarks want.
"""

from __future__ import annotations

import ctypes
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from events.messaging.embedded_broker import free_port

HOST = "127.0.0.1"


class ServerStartError(RuntimeError):
    """A server could not be installed or started; the message says what to do."""


def _install(package: str, binary: str) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ServerStartError(f"{binary} is missing: install Debian's {package} (apt-get install {package})")
    print(f"servers: installing {package} with apt-get", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        result = subprocess.run(step, env=env, capture_output=True, text=True, check=False)
        if result.returncode:
            raise ServerStartError(f"{' '.join(step)} failed:\n{result.stderr[-2000:]}")


def _postgres_bindir() -> Path | None:
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _unprivileged_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: as root, it runs as the `postgres` user Debian creates."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ServerStartError("running as root needs the 'postgres' user (Debian's postgresql creates it)") from exc


_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # A server of ours must not outlive the process that started it, even one killed with SIGKILL.
    _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def _wait(ready, process: subprocess.Popen, what: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise ServerStartError(f"{what} exited with code {process.returncode}; its log:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise ServerStartError(f"{what} did not answer within {timeout:.0f}s; its log:\n{_tail(log)}")
        time.sleep(0.1)


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-3000:]
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen | None, sig: int, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class PrivatePostgres:
    """A scratch PostgreSQL cluster under `root`, on a free loopback port.

    `durable=False` (tests) turns off fsync and synchronous commit: a crashed test cluster is thrown
    away anyway. stop() then start() again keeps the data, on the same port.
    """

    root: Path
    port: int = 0
    durable: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def server_url(self) -> str:
        return f"postgres://postgres@{HOST}:{self.port}"

    def url(self, database: str = "postgres") -> str:
        return f"{self.server_url}/{database}"

    @property
    def _data(self) -> Path:
        return self.root / "data"

    @property
    def _log(self) -> Path:
        return self.root / "postgres.log"

    def start(self, timeout: float = 60) -> PrivatePostgres:
        bindir = _postgres_bindir()
        if bindir is None:
            _install("postgresql", "initdb")
            bindir = _postgres_bindir()
            if bindir is None:
                raise ServerStartError("postgresql was installed but initdb is still missing")
        user = _unprivileged_user()
        self.root.mkdir(parents=True, exist_ok=True)
        if user is not None:
            os.chown(self.root, user.pw_uid, user.pw_gid)
        as_user = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
        if not self._data.exists():
            result = subprocess.run(
                [bindir / "initdb", "-D", self._data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale",
                 "--no-sync"],
                capture_output=True, text=True, check=False, **as_user,
            )  # fmt: skip
            if result.returncode:
                raise ServerStartError(f"initdb failed:\n{result.stderr[-2000:]}")
        self.port = self.port or free_port(HOST)
        settings = {
            "listen_addresses": HOST,
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            "max_connections": "200",
            "shared_buffers": "128MB",
        }
        if not self.durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        args = [bindir / "postgres", "-D", self._data]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        with open(self._log, "ab") as log:
            if user is not None:
                os.chown(self._log, user.pw_uid, user.pw_gid)
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent,
                **as_user,
            )  # fmt: skip
        _wait(self._accepts_connections, self.process, f"PostgreSQL on port {self.port}", self._log, timeout)
        return self

    def _accepts_connections(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.url(), connect_timeout=1).close()
        except psycopg.OperationalError:
            return False
        return True

    def stop(self) -> None:
        _stop(self.process, signal.SIGINT)  # PostgreSQL's fast shutdown


@dataclass
class PrivateRedis:
    """A redis-server on a free loopback port that writes nothing to disk."""

    root: Path
    port: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)

    def url(self, db: int = 0) -> str:
        return f"redis://{HOST}:{self.port}/{db}"

    def start(self, timeout: float = 30) -> PrivateRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            _install("redis-server", "redis-server")
            binary = shutil.which("redis-server")
            if binary is None:
                raise ServerStartError("redis-server was installed but is still not on PATH")
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port(HOST)
        log_path = self.root / "redis.log"
        args = [binary, "--bind", HOST, "--port", str(self.port), "--save", "", "--appendonly", "no",
                "--dir", str(self.root), "--daemonize", "no"]  # fmt: skip
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent
            )
        _wait(self._answers, self.process, f"Redis on port {self.port}", log_path, timeout)
        return self

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url(), socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        _stop(self.process, signal.SIGTERM)


def run_with_servers(command: list[str], *, durable: bool = False) -> int:
    started: list[PrivatePostgres | PrivateRedis] = []
    scratch = Path(tempfile.mkdtemp(prefix="refundtool-servers-"))
    os.chmod(scratch, 0o755)  # noqa: S103 - the postgres user must reach its directory inside
    env = dict(os.environ)
    child: subprocess.Popen | None = None

    def forward(signum: int, _frame: object) -> None:
        # Ctrl-C reaches the command from the terminal too; it finishes, then the servers stop.
        if child is not None and child.poll() is None and signum != signal.SIGINT:
            child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        if "DATABASE_URL" not in env:
            postgres = PrivatePostgres(scratch / "postgres", durable=durable).start()
            started.append(postgres)
            env["DATABASE_URL"] = postgres.url("refundtool")
            env.setdefault("BENCH_DATABASE_SERVER", postgres.server_url)
            print(f"servers: PostgreSQL at {postgres.server_url}", file=sys.stderr, flush=True)
        if "TEST_REDIS_URL" not in env:
            redis_server = PrivateRedis(scratch / "redis").start()
            started.append(redis_server)
            env["TEST_REDIS_URL"] = redis_server.url(15)
            env.setdefault("BENCH_REDIS_URL", redis_server.url(14))
            print(f"servers: Redis at {redis_server.url()}", file=sys.stderr, flush=True)
        child = subprocess.Popen(command, env=env)
        while True:
            try:
                return child.wait()
            except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for old kernels
                continue
    except ServerStartError as exc:
        print(f"servers: {exc}", file=sys.stderr)
        return 2
    finally:
        if child is not None and child.poll() is None:
            _stop(child, signal.SIGTERM, timeout=60)
        for server in reversed(started):
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str]) -> int:
    durable = argv[:1] == ["--durable"]
    if durable:
        argv = argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv or argv[0].startswith("-"):
        print("usage: python -m tests.support.servers [--durable] -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    return run_with_servers(argv, durable=durable)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
