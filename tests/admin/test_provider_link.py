"""The OFD link the fiscal provider gave is a link on the refund page only when it is https."""

import pytest
from django.urls import reverse

from events.messaging.embedded_broker import free_port
from fiscalization.models import Receipt
from tests.admin.factories import make_refund

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("javascript:alert(document.cookie)", False),
        ("JAVASCRIPT:alert(1)", False),
        ("http://ofd.example/rec/1", False),
        ("https://ofd.example/rec/1", True),
    ],
)
def test_only_an_https_ofd_url_is_a_link(support, settings, url, link):
    # No broker: the page's dead-letter panel says so at once; the receipts are what this test reads.
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"
    settings.REFUNDTOOL_ADMIN_BROKER_TIMEOUT_SECONDS = 1
    refund = make_refund("refunded")
    Receipt.objects.filter(refund=refund).update(status="done", fn_number="9999078900012345", ofd_receipt_url=url)
    response = support.get(reverse("admin:refundtool_refund_change", args=[refund.pk]))
    page = response.content.decode()
    assert url in page  # shown either way, for support to read
    assert (f'href="{url}"' in page) is link
