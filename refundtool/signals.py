"""Signals other apps connect to; refundtool never imports them.

``refund_transitioned`` is sent inside the transaction of every change of a refund, after its audit
row is written, with ``refund``, ``transition`` (the name), ``source`` (a status, or None when the
refund was just created) and ``target``. Receivers that act outside the database must defer to
``transaction.on_commit``.
"""

from django.dispatch import Signal

refund_transitioned = Signal()
