"""The suite's scrape token: tests/settings.py accepts it, also in every process the suite starts."""

import hashlib

SCRAPE_TOKEN = "rts_the-test-suites-own-scrape-token"
SCRAPE_TOKEN_SHA256 = hashlib.sha256(SCRAPE_TOKEN.encode()).hexdigest()
# Client(**SCRAPE_AUTH) or client.get(path, **SCRAPE_AUTH): what Prometheus sends.
SCRAPE_AUTH = {"HTTP_AUTHORIZATION": f"Bearer {SCRAPE_TOKEN}"}
AUTHORIZATION_HEADER = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}
