"""Instructions per event of the gateway's request path and of raw confluent-kafka produce, by callgrind.

    python -m bench.gateway.instructions [--requests 40] [--batch 100]

bench.gateway's rates swing by a third between runs on a shared machine; instruction counts do not,
so this is the figure to compare two versions of the gateway by. It needs valgrind.

Each path runs in a child Python under `valgrind --tool=callgrind`, twice: with --requests requests
of --batch events, and with three times as many. The difference of the two totals divided by the
difference in events is the path's instructions per event, so start-up, Django's set-up and the
warm-up cancel out. Every thread of the child counts, librdkafka's included; the broker (tansu)
runs outside valgrind and does not.

- gateway: the web process's WSGI application (refundtool.web.worker_application, GC settings
  included), called in-process as a server would call it: authentication, validation, produce,
  the delivery reports and the JSON answer. HTTP parsing (granian's, in Rust) is not in it.
- raw: bench.gateway's raw producer writing the same records to the same topic.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.gateway import workload
from bench.support import local_broker
from events.gateway.handler import WSGIApplication

PROJECT_DIR = Path(__file__).resolve().parents[2]
DISTINCT_BATCHES = 10  # made before counting starts and sent over and over, so making them is not counted
SCALE = 3  # the larger run has this many times the requests of the smaller one


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gateway.instructions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=_multiple_of_batches, default=40, help="requests of the smaller run")
    parser.add_argument("--batch", type=int, default=100, help="events a request")
    parser.add_argument("--child", choices=["gateway", "raw"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _run_child(args.child, args.requests, args.batch)
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench.gateway.instructions needs valgrind (Debian's package valgrind)")

    with (
        local_broker("tansu") as (bootstrap_servers, _),
        tempfile.TemporaryDirectory(prefix="bench-gateway-") as var_dir,
    ):
        database_url = workload.scratch_database_url()
        env = workload.gateway_environment(bootstrap_servers, database_url, var_dir)
        os.environ.update(env)
        import django

        django.setup()
        with workload.database(database_url):
            env["BENCH_GATEWAY_TOKEN"] = workload.prepare(partitions=6)
            runs = [
                (path, requests) for path in ("gateway", "raw") for requests in (args.requests, args.requests * SCALE)
            ]
            with ThreadPoolExecutor(max_workers=len(runs)) as pool:
                totals = dict(
                    zip(runs, pool.map(lambda run: _count(*run, args.batch, env, var_dir), runs), strict=True)
                )
    events = args.requests * (SCALE - 1) * args.batch
    per_event = {
        path: (totals[path, args.requests * SCALE] - totals[path, args.requests]) / events
        for path in ("gateway", "raw")
    }
    counted = f"{events:,} events counted per path"
    print(f"instructions per event, {workload.EVENT_TYPE} in batches of {args.batch} ({counted}):")
    print(f"  gateway request path (WSGI application in-process): {per_event['gateway']:>10,.0f}")
    print(f"  raw confluent-kafka produce of the same records:    {per_event['raw']:>10,.0f}")
    print(f"  raw / gateway:                                       {per_event['raw'] / per_event['gateway']:>10.1%}")


def _multiple_of_batches(text: str) -> int:
    value = int(text)
    if value < DISTINCT_BATCHES or value % DISTINCT_BATCHES:
        raise argparse.ArgumentTypeError(f"must be a multiple of {DISTINCT_BATCHES}")
    return value


def _count(path: str, requests: int, batch: int, env: dict[str, str], var_dir: str) -> int:
    """The total instructions of a child run under callgrind."""
    out = Path(var_dir) / f"callgrind.{path}.{requests}"
    command = [
        *("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"),
        *(sys.executable, "-m", "bench.gateway.instructions", "--child", path),
        *("--requests", str(requests), "--batch", str(batch)),
    ]
    finished = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    if finished.returncode != 0:
        raise RuntimeError(f"the {path} run failed:\n{finished.stderr[-3000:]}")
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {out}")


def _run_child(path: str, requests: int, batch: int) -> None:
    import django

    django.setup()
    import orjson

    batches = [workload.sample_events(batch) for _ in range(DISTINCT_BATCHES)]
    if path == "raw":
        producer = workload.RawProducer([event for events in batches for event in events])
        producer.rate(requests // DISTINCT_BATCHES)
        return
    from refundtool.web import worker_application

    application = worker_application()  # as each web worker gets it, with its GC settings
    token = os.environ["BENCH_GATEWAY_TOKEN"]
    requests_made = [_publish_environ(token, orjson.dumps(events)) for events in batches]
    for environ, body in requests_made:  # warm-up: the producer connected, the credential cached
        _call(application, environ, body)
    for index in range(requests):
        _call(application, *requests_made[index % DISTINCT_BATCHES])


def _publish_environ(token: str, body: bytes) -> tuple[dict[str, Any], bytes]:
    """A publish request's WSGI environ, made before counting starts, and its body."""
    from django.test import RequestFactory

    path = f"/api/events/{workload.EVENT_TYPE}"
    authorization = f"Bearer {token}"
    request = RequestFactory().post(path, body, content_type="application/json", HTTP_AUTHORIZATION=authorization)
    return request.environ, body


def _call(application: WSGIApplication, environ: dict[str, Any], body: bytes) -> None:
    statuses: list[str] = []
    environ = {**environ, "wsgi.input": io.BytesIO(body)}  # a body stream is read once
    response = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        answer = b"".join(response)
    finally:
        response.close()
    if not statuses[0].startswith("200"):
        raise RuntimeError(f"the gateway answered {statuses[0]}: {answer[:500]!r}")


if __name__ == "__main__":
    main()
