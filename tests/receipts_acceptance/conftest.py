"""Issue 22's end-to-end acceptance of receipts draws on three harnesses at once: the service's processes
(tests/flow), the fiscal emulator (tests/fiscal) and the admin's users and browser (tests/admin)."""

import pytest

from tests.admin.conftest import make_user, roles, support  # noqa: F401 - users of the Support role
from tests.admin.test_browser import browser, page  # noqa: F401 - Debian's chromium through Playwright
from tests.fiscal.conftest import emulator_process, fiscal_emulator  # noqa: F401 - the emulator over HTTP
from tests.flow.conftest import flow  # noqa: F401 - the consumer, relay and Payment simulator processes


@pytest.fixture
def quick_fiscal(settings, celery_worker, request):
    """The emulator with the real Celery worker; the worker polls quickly and a receipt's SLA is one
    second, so a receipt that fails is soon past it."""
    settings.FISCAL_POLL_INTERVAL_SECONDS = 0.1
    settings.FISCAL_SLA_SECONDS = 1
    return request.getfixturevalue("fiscal_emulator")  # by name: the fixture is imported above
