"""What the service benchmarks share: gunicorn and PostgreSQL servers on 127.0.0.1."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# gunicorn's workers as deploy/gunicorn.conf.py sets them: 4 sync workers, a new connection per
# request. No access log, for both apps alike (production logs each request, masking tokens).
DEPLOYED = ["--workers", "4", "--worker-class", "sync", "--log-level", "warning"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """A gunicorn server for one app (e.g. "mailer.wsgi:app") on a free port of 127.0.0.1."""

    def __init__(self, app: str, env: dict, settings: list[str]):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *settings, "--bind", f"127.0.0.1:{self.port}",
             "--pythonpath", f"{ROOT},{ROOT / 'bench'}", app],
            cwd=ROOT, env={**os.environ, **env},
        )

    def __enter__(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn start niet")

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)

    def cpu_seconds(self) -> float:
        """CPU time used so far by gunicorn and its workers (Linux /proc), 0 where unknown."""
        pids = [self.process.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.process.pid:  # the parent's pid
                pids.append(int(stat.parent.name))
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        return total / os.sysconf("SC_CLK_TCK")


class Postgres:
    """A throwaway PostgreSQL server from Debian's packages on 127.0.0.1; yields its URI.

    Run as the postgres user when we are root. Durable as in production (fsync on).
    """

    def __enter__(self) -> str:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("PostgreSQL ontbreekt: apt-get install -y postgresql")
        self.bin = Path(found[-1]).parent
        self.base = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.base, "postgres")
        port = free_port()
        subprocess.run([*self.as_user, self.bin / "initdb", "-D", self.base / "data", "-U",
                        "postgres", "--auth=trust", "-E", "UTF8"], check=True,
                       capture_output=True)
        subprocess.run([*self.as_user, self.bin / "pg_ctl", "-D", self.base / "data", "-l",
                        self.base / "log", "-w", "-o",
                        f"-p {port} -k {self.base} -c listen_addresses=127.0.0.1", "start"],
                       check=True, capture_output=True)
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def __exit__(self, *exc):
        subprocess.run([*self.as_user, self.bin / "pg_ctl", "-D", self.base / "data", "-m",
                        "fast", "stop"], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)
