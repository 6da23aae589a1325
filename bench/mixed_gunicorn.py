"""gunicorn hooks for bench/mixed.py: each request's method, path, status and worker time.

A line per request in $MIXED_REQUEST_LOG: the worker's CPU time as well as the wall time, since
on a small shared machine the wall time of a page also counts what the other processes (the
shoppers, PostgreSQL, the other worker) did meanwhile, while CPU time is what the page itself cost.
"""

import os
import time

_log = None


def post_fork(server, worker):
    global _log  # noqa: PLW0603 - one log file per worker process
    _log = open(os.environ["MIXED_REQUEST_LOG"], "a", buffering=1)  # noqa: SIM115 - kept open


def pre_request(worker, req):
    req.bench_started = (time.process_time(), time.perf_counter())


def post_request(worker, req, environ, resp):
    cpu, wall = req.bench_started
    cpu_ms = (time.process_time() - cpu) * 1000
    wall_ms = (time.perf_counter() - wall) * 1000
    _log.write(f"{req.method} {req.path} {resp.status_code} {cpu_ms:.3f} {wall_ms:.3f}\n")
