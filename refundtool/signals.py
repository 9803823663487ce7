"""Signals other apps connect to; refundtool never imports them.

``refund_transitioned`` is sent inside the transaction of every change of a refund, after its audit
row is written, with ``refund``, ``transition`` (the name), ``source`` (a status, or None when the
refund was just created), ``target`` and ``sequence`` (the refund's sequence after that change).
``refund`` is the refund as the service leaves it: a new refund is written once, after `request`
and `send_to_payment`, so both of its signals see it ready to refund. Receivers that act outside
the database must defer to ``transaction.on_commit``.
"""

from django.dispatch import Signal

refund_transitioned = Signal()
