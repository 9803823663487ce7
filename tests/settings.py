"""Settings for the test suite: the real PostgreSQL and Redis of the machine, never the embedded defaults.

DATABASE_URL overrides the database; TEST_REDIS_URL the Redis database that the suite flushes
(never REDIS_URL, so a developer's own Redis data is safe).
"""

import atexit
import hashlib
import os
import shutil
import tempfile

from tests.support.ops import SCRAPE_TOKEN_SHA256

# DEBUG is off unless asked for; the suite (and every process it starts, which inherits this) asks.
os.environ["DJANGO_DEBUG"] = "1"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/refundtool")
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# The scrape token the tests send to /metrics, /monitoring/* and /readyz (tests.support.ops).
os.environ["REFUNDTOOL_SCRAPE_TOKEN_SHA256"] = SCRAPE_TOKEN_SHA256
# The metrics of this run's processes (this one and those it starts) go to a directory of its own.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="refundtool-metrics-")

from refundtool.settings import *  # noqa: F403
from refundtool.settings import BASE_DIR, DATABASES

atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

# One test database per checkout and broker, so two worktrees, and the two passes of scripts/test,
# can run the suite at once.
_checkout = hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8]  # noqa: S324 - a name, not a secret
_broker = os.environ.get("TEST_KAFKA", "tansu")
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_checkout}_{_broker}"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
