"""Benchmark of the support admin and the accountants' reports on a million refunds.

    python -m bench.admin [--refunds 1000000] [--requests 40] [--rebuild]

Uses a PostgreSQL database of its own (refundtool_bench_admin on the DATABASE_URL server, default
postgres://postgres@127.0.0.1:5432), migrated and filled once with generate_series (about 1M refunds
and 2M items; --rebuild starts it again) and kept for the next run. Then it prints:

- changelist server time (Django's full stack through the test client, in this process), p50 and p95
  per scenario, filtered and searched, against the baseline of what the stock changelist would also
  run on every page: COUNT(*) over the refunds (goal: p95 under 300 ms);
- the CSV export of every refunded row, in a fresh process: time and peak RSS, against the baseline of
  PostgreSQL's own COPY of the same rows (goal: under 20 s and 200 MB);
- the XLSX export of the same rows, in a fresh process: time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

PROJECT_DIR = Path(__file__).resolve().parents[2]
DATABASE = "refundtool_bench_admin"
ALL_TIME = {"date_from": "2000-01-01", "date_to": "2100-12-31"}
GOAL_P95_MS = 300
GOAL_CSV_SECONDS = 20
GOAL_CSV_RSS_MB = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refunds", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40, help="timed requests per changelist scenario")
    parser.add_argument("--rebuild", action="store_true", help="drop and fill the bench database again")
    parser.add_argument("--export", choices=["csv", "xlsx"], help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    _configure()
    if args.export:
        _export_child(args.export)
        return
    _prepare_database(args.refunds, rebuild=args.rebuild)
    import django

    django.setup()
    _changelist(args.requests)
    _exports()


def _server_url() -> str:
    return os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]


def _configure() -> None:
    os.environ.update(
        {
            "DATABASE_URL": f"{_server_url()}/{DATABASE}",
            "DJANGO_SETTINGS_MODULE": "refundtool.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": os.environ.get("BENCH_SECRET_KEY", "bench-only-" + uuid.uuid4().hex),
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            # Production refuses the emulator's credentials; the admin never calls the provider.
            "FISCAL_LOGIN": "bench",
            "FISCAL_PASSWORD": "bench-only-" + uuid.uuid4().hex,
            "FISCAL_ALLOW_HTTP": "1",
            "REFUNDTOOL_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(PROJECT_DIR))


# --- the data -------------------------------------------------------------------------------------


def _prepare_database(refunds: int, *, rebuild: bool) -> None:
    with psycopg.connect(f"{_server_url()}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if exists and rebuild:
            admin.execute(f'DROP DATABASE "{DATABASE}" WITH (FORCE)')
            exists = None
        if not exists:
            admin.execute(f'CREATE DATABASE "{DATABASE}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=PROJECT_DIR, check=True)
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as db:
        have = db.execute("SELECT count(*) FROM refundtool_refund").fetchone()[0]
        if have == refunds:
            print(f"bench database {DATABASE}: {have:,} refunds (kept from an earlier run; --rebuild to refill)")
            return
        print(f"filling {DATABASE} with {refunds:,} refunds and {2 * refunds:,} items ...", flush=True)
        started = time.perf_counter()
        db.execute("TRUNCATE refundtool_refund CASCADE")
        db.execute(FILL_REFUNDS, {"n": refunds})
        db.execute(FILL_ITEMS)
        db.execute("VACUUM ANALYZE refundtool_refund")
        db.execute("VACUUM ANALYZE refundtool_refunditem")
        print(f"filled in {time.perf_counter() - started:.0f} s")


# Deterministic mix: 80% completed, 3% refunded, 5% ready_to_refund, 3% payment_failed, 1% fiscal_failed,
# 5% cancelled, 3% needs_attention; RU 55%, KZ 20%, BY 15%, UA 10%; created over the last 365 days in
# insertion order (so the table's physical order follows time, as it does in production).
FILL_REFUNDS = """
WITH base AS (
    SELECT g,
           (g * 37) %% 100 AS bucket,
           CASE WHEN g %% 20 < 11 THEN 'RU' WHEN g %% 20 < 15 THEN 'KZ' WHEN g %% 20 < 18 THEN 'BY' ELSE 'UA' END
               AS country,
           -- in arrival order, as a live table fills: the oldest row first, a year back
           now() - make_interval(secs => (%(n)s - g) * 365 * 86400.0 / %(n)s) AS created,
           (100 + g %% 5000)::numeric + 101.00 AS amount
    FROM generate_series(1::bigint, %(n)s) AS g
), shaped AS (
    SELECT *,
           CASE WHEN bucket < 80 THEN 'completed' WHEN bucket < 83 THEN 'refunded'
                WHEN bucket < 88 THEN 'ready_to_refund' WHEN bucket < 91 THEN 'payment_failed'
                WHEN bucket < 92 THEN 'fiscal_failed' WHEN bucket < 97 THEN 'cancelled'
                ELSE 'needs_attention' END AS status
    FROM base
), paid AS (
    SELECT *,
           status IN ('completed', 'refunded', 'fiscal_failed', 'needs_attention') AS money_left
    FROM shaped
)
INSERT INTO refundtool_refund (
    id, refund_request_id, request_fingerprint, order_number, country, currency, amount, delivery_amount,
    payment_id, payment_method, customer_email, customer_phone, requested_at, status, status_changed_at,
    reason, sequence, payment_transaction_id, payment_result_at, refunded_at, fiscal_status, fn_number,
    fiscal_document_number, fiscal_document_attribute, receipt_datetime, ofd_receipt_url, created_at, updated_at)
SELECT gen_random_uuid(), gen_random_uuid(), md5(g::text), country || '-' || (100000000 + g), country,
       CASE country WHEN 'RU' THEN 'RUB' WHEN 'KZ' THEN 'KZT' WHEN 'BY' THEN 'BYN' ELSE 'UAH' END,
       amount, 0, 'pay-' || g,
       (ARRAY['card', 'sbp', 'cash_on_delivery', 'gift_card', 'bonus_points', 'bank_transfer'])[1 + g %% 6],
       'customer' || g || '@example.com', '+7 9' || lpad((g %% 1000000000)::text, 9, '0'),
       created - interval '1 minute', status, created + interval '10 minutes', '', 3,
       CASE WHEN money_left THEN 'tx-' || g ELSE '' END,
       CASE WHEN money_left THEN created + interval '5 minutes' END,
       CASE WHEN money_left THEN created + interval '5 minutes' END,
       CASE WHEN country <> 'RU' OR NOT money_left THEN 'not_required' WHEN status = 'completed' THEN 'done'
            WHEN status = 'fiscal_failed' THEN 'failed' ELSE 'pending' END,
       CASE WHEN country = 'RU' AND status = 'completed' THEN '9999078900012345' ELSE '' END,
       CASE WHEN country = 'RU' AND status = 'completed' THEN (g %% 100000)::text ELSE '' END,
       CASE WHEN country = 'RU' AND status = 'completed' THEN (3000000000 + g)::text ELSE '' END,
       CASE WHEN country = 'RU' AND status = 'completed' THEN created + interval '6 minutes' END,
       CASE WHEN country = 'RU' AND status = 'completed' THEN 'https://ofd.example/r/' || g ELSE '' END,
       created, created + interval '10 minutes'
FROM paid
"""
FILL_ITEMS = """
INSERT INTO refundtool_refunditem (refund_id, item_id, sku, name, quantity, unit_price, vat_rate, reason)
SELECT r.id, i::text, 'SKU-' || i, CASE i WHEN 1 THEN 'Kettle' ELSE 'Mug' END, i,
       CASE i WHEN 1 THEN r.amount - 101.00 ELSE 50.50 END,
       CASE WHEN r.country = 'RU' THEN (CASE i WHEN 1 THEN '22' ELSE '10' END)
            WHEN r.country = 'KZ' THEN '12' ELSE '20' END,
       'broken'
FROM refundtool_refund r CROSS JOIN generate_series(1, 2) AS i
"""


# --- changelist -----------------------------------------------------------------------------------


def _changelist(requests: int) -> None:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from refundtool.models import Refund

    user, _ = User.objects.get_or_create(username="bench", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    sample = Refund.objects.filter(country="RU", refunded_at__isnull=False).order_by("-created_at")[1234]
    week_start = (sample.created_at.date()).isoformat()
    scenarios: list[tuple[str, dict[str, Any]]] = [
        ("first page, no filter", {}),
        ("page 20, no filter", {"p": "20"}),
        ("status needs_attention", {"status__exact": "needs_attention"}),
        ("country KZ + payment sbp", {"country": "KZ", "payment_method__exact": "sbp"}),
        ("fiscal status failed", {"fiscal_status__exact": "failed"}),
        ("stuck", {"stuck": "yes"}),
        ("SLA breached", {"sla_breached": "yes"}),
        ("waiting for support", {"attention": "support_queue"}),
        ("created in one day", {"created_at__range__gte": week_start, "created_at__range__lte": week_start}),
        ("search order number", {"q": sample.order_number.lower()}),
        ("search refund id", {"q": str(sample.id)}),
        ("search e-mail, other case", {"q": sample.customer_email.upper()}),
        ("search phone digits", {"q": sample.customer_phone.replace(" ", "")}),
        ("search transaction id", {"q": sample.payment_transaction_id}),
        ("status + search order", {"status__exact": sample.status, "q": sample.order_number}),
    ]
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("SELECT count(*) FROM refundtool_refund")
        total = cursor.fetchone()[0]
        count_ms = (time.perf_counter() - started) * 1000
    print(f"\nchangelist on {total:,} refunds, {requests} requests per scenario after 3 warm-ups")
    print(f"baseline: COUNT(*) over the refunds, which the stock changelist runs on every page: {count_ms:.0f} ms\n")
    print(f"{'scenario':34} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8} {'p95/COUNT':>10}")
    worst = 0.0
    for name, params in scenarios:
        times = []
        for attempt in range(requests + 3):
            started = time.perf_counter()
            response = client.get("/admin/refundtool/refund/", params)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (name, response.status_code)
            if attempt >= 3:
                times.append(elapsed)
        rows = response.content.count(b'class="field-order_number"')
        p50 = statistics.median(times)
        p95 = statistics.quantiles(times, n=20)[18]
        worst = max(worst, p95)
        print(f"{name:34} {rows:5} {p50:8.1f} {p95:8.1f} {p95 / count_ms:10.2f}")
    verdict = "met" if worst < GOAL_P95_MS else "MISSED"
    print(f"\nworst p95: {worst:.1f} ms (goal under {GOAL_P95_MS} ms: {verdict})")


# --- exports --------------------------------------------------------------------------------------


def _exports() -> None:
    baseline = _copy_baseline()
    results = {}
    for kind in ("csv", "xlsx"):
        output = subprocess.run(
            [sys.executable, "-m", "bench.admin", "--export", kind],
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[kind] = json.loads(output.strip().splitlines()[-1])
    csv_result = results["csv"]
    print(f"\nexport of every refunded row ({csv_result['rows']:,} rows + totals), each in a fresh process")
    print(f"baseline: PostgreSQL COPY of the same refund rows to the client: {baseline:.1f} s")
    for kind, result in results.items():
        print(
            f"{kind.upper():5} {result['seconds']:6.1f} s ({result['seconds'] / baseline:.1f} x COPY), "
            f"{result['megabytes']:.0f} MB, peak RSS {result['peak_rss_mb']:.0f} MB "
            f"(process before the export {result['rss_before_mb']:.0f} MB)"
        )
    time_ok = csv_result["seconds"] < GOAL_CSV_SECONDS
    rss_ok = csv_result["peak_rss_mb"] < GOAL_CSV_RSS_MB
    print(
        f"CSV goals: under {GOAL_CSV_SECONDS} s {'met' if time_ok else 'MISSED'}, "
        f"under {GOAL_CSV_RSS_MB} MB RSS {'met' if rss_ok else 'MISSED'}"
    )


def _copy_baseline() -> float:
    query = (
        "COPY (SELECT id, refund_request_id, order_number, country, currency, status, payment_method, amount, "
        "delivery_amount, requested_at, refunded_at, fiscal_status, fn_number, fiscal_document_number, "
        "fiscal_document_attribute, receipt_datetime, ofd_receipt_url FROM refundtool_refund "
        "WHERE refunded_at IS NOT NULL ORDER BY refunded_at, id) TO STDOUT WITH CSV"
    )
    with psycopg.connect(os.environ["DATABASE_URL"]) as db, db.cursor() as cursor:
        started = time.perf_counter()
        with cursor.copy(query) as copy:
            for _ in copy:
                pass
        return time.perf_counter() - started


def _export_child(kind: str) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from refundtool.roles import ACCOUNTANT, roles_ensure

    roles_ensure()
    user, _ = User.objects.get_or_create(username="bench-accountant", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name=ACCOUNTANT))
    client = Client()
    client.force_login(user)
    client.get("/api/reports/refunds.csv", {"date_from": "2000-01-01", "date_to": "2000-01-01"})  # warm imports
    rss_before = _rss_mb()
    started = time.perf_counter()
    response = client.get(f"/api/reports/refunds.{kind}", ALL_TIME)
    assert response.status_code == 200, response.content
    size = 0
    for chunk in response.streaming_content:
        size += len(chunk)
    seconds = time.perf_counter() - started
    response.close()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "megabytes": size / 1e6,
                "rows": _refunded_rows(),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_before_mb": rss_before,
            }
        )
    )


def _refunded_rows() -> int:
    from refundtool.models import Refund

    return Refund.objects.filter(refunded_at__isnull=False).count()


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


if __name__ == "__main__":
    main()
