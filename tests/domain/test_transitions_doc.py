from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from refundtool.models import Refund
from refundtool.transition_doc import DOC_PATH, render, transition_rows


def test_the_committed_transition_table_is_generated_from_the_code():
    out = StringIO()
    call_command("refund_transitions", "--check", stdout=out)
    assert "is up to date" in out.getvalue()


def test_a_stale_table_fails_the_check(tmp_path):
    stale = tmp_path / "refund-transitions.md"
    stale.write_text(DOC_PATH.read_text().replace("| `cancel` |", "| `cancel_anything` |"))

    with pytest.raises(CommandError, match="is stale"):
        call_command("refund_transitions", "--check", "--output", str(stale))

    call_command("refund_transitions", "--output", str(stale), stdout=StringIO())
    call_command("refund_transitions", "--check", "--output", str(stale), stdout=StringIO())


def test_the_table_lists_every_transition_of_the_model():
    declared = {t.name for t in Refund._meta.get_field("status").get_all_transitions(Refund)}
    assert {row.name for row in transition_rows()} == declared | {"request"}
    assert all(f"| `{name}` |" in render() for name in declared)
