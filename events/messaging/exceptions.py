"""What a message handler raises to tell the consumer runtime what to do with a message."""


class RejectMessage(Exception):  # noqa: N818 - a routing signal raised by handlers, read as a verb
    """The message is wrong for good (a business rule refuses it): dead-letter it and go on."""


class RetryMessageLater(Exception):  # noqa: N818 - a routing signal raised by handlers, read as a verb
    """The message may succeed later (for example its refund does not exist yet).

    The runtime pauses the message's partition and tries again until the retry window closes,
    then dead-letters it with this reason. Other partitions go on meanwhile.
    """
