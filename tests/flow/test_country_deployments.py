"""Country deployments side by side: `consume --countries RU` and `--countries KZ` without --group each
get a group of their own, so neither commits past (and loses) the other's messages."""

from collections import Counter

import pytest

from events.messaging.models import InboxMessage
from refundtool.models import Refund
from tests.support.processes import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_an_ru_and_a_kz_consumer_each_handle_their_own_messages_exactly_once(flow):
    ru = flow.start("consumer-ru", "consume", "--countries", "RU")
    kz = flow.start("consumer-kz", "consume", "--countries", "KZ")
    requests = [flow.request(country) for country in ["RU", "KZ"] * 15]
    flow.publish(*requests)

    wait_for(lambda: Refund.objects.count() == len(requests), timeout=90, message=flow.logs)
    assert Counter(Refund.objects.values_list("country", flat=True)) == {"RU": 15, "KZ": 15}
    handled = Counter(InboxMessage.objects.values_list("group", flat=True))
    assert handled == {"refundtool-ru": 15, "refundtool-kz": 15}
    assert "consuming as group refundtool-ru" in ru.log()
    assert "consuming as group refundtool-kz" in kz.log()
    assert ru.stop() == 0, flow.logs()
    assert kz.stop() == 0, flow.logs()
