from refundtool.celery import app
from tests.support.processes import wait_for


def test_the_worker_fixture_runs_a_real_worker_on_redis(celery_worker):
    # A control broadcast goes over Redis pub/sub: one sent before the worker's control consumer has
    # subscribed is lost, and "started" does not mean "subscribed". So ask again until it answers.
    def answered() -> bool:
        replies = app.control.ping(destination=[celery_worker.hostname], timeout=0.5)
        return any(celery_worker.hostname in reply for reply in replies)

    wait_for(answered, timeout=30, message=f"worker {celery_worker.hostname} never answered a ping")
