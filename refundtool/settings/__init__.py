"""Settings for Refund Tool, read from the environment, one module per concern.

Every variable is documented in README.md ("Settings"). With no variable set the service runs on
embedded defaults: a SQLite file under ``var/``, the bundled Kafka-protocol broker on
127.0.0.1:9092 and Celery over kombu's filesystem transport. PostgreSQL, Kafka and Redis are used
exactly when ``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS`` and ``REDIS_URL`` name them.

- a setting of ours is named exactly as its variable (``settings.REFUNDTOOL_CONSUMER_GROUP`` reads
  ``REFUNDTOOL_CONSUMER_GROUP``); Django's own keep Django's names (``DEBUG`` reads ``DJANGO_DEBUG``);
- a bad value is an ImproperlyConfigured naming the variable;
- reading the settings writes nothing: the folders under ``REFUNDTOOL_VAR_DIR`` are made when the
  refundtool app starts (refundtool/local_state.py). The one exception is prometheus_client's
  multiprocess mode (base.py), which must be on before any app creates a metric.
"""

from refundtool.settings.base import *  # noqa: F403
from refundtool.settings.celery_beat import *  # noqa: F403
from refundtool.settings.fiscal import *  # noqa: F403
from refundtool.settings.kafka_events import *  # noqa: F403
from refundtool.settings.logging import *  # noqa: F403
