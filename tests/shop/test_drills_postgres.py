"""Drill: PostgreSQL restarts while gunicorn is serving.

The test makes its own PostgreSQL cluster on a free port in a temporary directory (never the
machine's), migrates it, starts gunicorn against it, then stops PostgreSQL mid-run and starts
it again. While it is down every request must get the short 503 page within a few seconds; once
it is back the same gunicorn processes must serve 200 again, without being restarted. The
server runs with DEBUG on only so that it needs no collected static files; the 503 comes from
the same middleware either way.
"""

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import skip_or_fail

from .test_drills_redis import free_port

PG_BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
START_TIMEOUT = 20
REQUEST_TIMEOUT = 10
# A request made while the database is down must be answered within this many seconds.
ANSWER_WITHIN = 4
# The server must answer 200 again within this many seconds of PostgreSQL being back.
RECOVER_WITHIN = 10


def as_postgres(command):
    """Run a PostgreSQL binary; as root, as the postgres user (PostgreSQL refuses root)."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT)


class PrivateCluster:
    """A PostgreSQL cluster this test owns, listening on 127.0.0.1 only."""

    def __init__(self, bin_dir):
        self.bin = Path(bin_dir)
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="shop-drill-pg-"))
        self.data = self.root / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        as_postgres(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres"]
            + ["--auth=trust", "-E", "UTF8", "--no-sync"]
        )

    def start(self):
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        as_postgres(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options]
            + ["-l", str(self.root / "log"), "-w", "start"]
        )

    def stop(self, mode="fast"):
        as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def remove(self):
        if (self.data / "postmaster.pid").exists():
            self.stop(mode="immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def cluster():
    if not PG_BINARIES or not shutil.which("initdb", path=PG_BINARIES[-1]):
        skip_or_fail("needs PostgreSQL's initdb and pg_ctl in /usr/lib/postgresql/*/bin")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        skip_or_fail("needs runuser to run PostgreSQL as the postgres user")
    cluster = PrivateCluster(PG_BINARIES[-1])
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def gunicorn(cluster):
    """gunicorn with two workers serving the shop from the private cluster."""
    environment = {
        key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DEBUG")
    }
    environment.update(
        DATABASE_URL=cluster.url,
        DJANGO_SETTINGS_MODULE="shop.settings",
        DEBUG="true",
        CELERY_TASK_ALWAYS_EAGER="true",
    )
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    subprocess.run(
        [*manage, "migrate", "-v0"], env=environment, check=True, timeout=120, cwd=settings.BASE_DIR
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "shop.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", "2", "--timeout", "30", "--no-control-socket"],
        env=environment,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while get(f"{base}/healthz")[0] != 200:
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield server, base
    finally:
        server.terminate()
        try:
            server.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=START_TIMEOUT)


def get(url):
    """(status, body, seconds); a refused connection is status 0."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
            status, body = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read().decode()
    except urllib.error.URLError:
        status, body = 0, ""
    return status, body, time.monotonic() - started


def workers(server):
    """The pids of gunicorn's workers, to prove the same processes serve after the outage."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return set(children.read_text().split()) if children.exists() else set()


def test_requests_get_503_while_postgres_is_down_and_200_once_it_is_back(cluster, gunicorn):
    server, base = gunicorn
    made = 0

    def page(number):
        """A search listing: each query is new, so it is drawn from the database, not cached."""
        nonlocal made
        made += 1
        return get(f"{base}/products/?q=drill{number}")

    assert all(page(n)[0] == 200 for n in range(4))
    serving = workers(server)

    cluster.stop()
    while_down = [page(n) for n in range(4, 14)]
    health_down = get(f"{base}/healthz")
    cluster.start()
    back_at = time.monotonic()
    number = 14
    while (status := page(number)[0]) != 200 and time.monotonic() - back_at < RECOVER_WITHIN:
        number += 1
        time.sleep(0.1)
    recovered_in = time.monotonic() - back_at
    after = [page(n)[0] for n in range(number + 1, number + 5)]

    statuses = [status for status, _body, _seconds in while_down]
    print(
        f"\npostgres drill: {made} requests, {statuses.count(503)} answered 503 while down, "
        f"{sum(s >= 500 and s != 503 for s in statuses)} other 5xx, "
        f"slowest answer while down {max(s for _st, _b, s in while_down):.2f} s, "
        f"serving 200 again {recovered_in:.2f} s after PostgreSQL was back"
    )
    assert statuses == [503] * len(while_down)
    assert all("back in a moment" in body for _status, body, _seconds in while_down)
    assert all("Traceback" not in body for _status, body, _seconds in while_down)
    assert max(seconds for _status, _body, seconds in while_down) < ANSWER_WITHIN
    assert health_down[0] == 503 and '"database": "down' in health_down[1]
    assert status == 200 and after == [200] * 4
    assert server.poll() is None and workers(server) == serving
