from refundtool.celery import app


def test_the_worker_fixture_runs_a_real_worker_on_redis(celery_worker):
    replies = app.control.ping(timeout=5)
    assert any(celery_worker.hostname in reply for reply in replies)
