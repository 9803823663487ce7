import logging

from refundtool.logging import MaskPersonalDataFilter, mask_personal_data


def test_email_and_phone_are_masked():
    text = mask_personal_data("refund for ivan.petrov@example.ru, phone +7 (912) 345-67-89, order 100500")
    assert "ivan.petrov" not in text
    assert "345-67-89" not in text
    assert "i***@example.ru" in text
    assert "***89" in text
    assert "order 100500" in text


def test_the_filter_masks_arguments_of_a_log_record():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "customer %s called from %s", ("a@b.io", "89123456789"), None
    )
    MaskPersonalDataFilter().filter(record)
    assert record.getMessage() == "customer a***@b.io called from ***89"
