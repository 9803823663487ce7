from django.db import migrations

CREATE = """
CREATE FUNCTION events_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('refundtool_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER events_outbox_notify AFTER INSERT ON events_outboxmessage
    FOR EACH STATEMENT EXECUTE FUNCTION events_outbox_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS events_outbox_notify ON events_outboxmessage;
DROP FUNCTION IF EXISTS events_outbox_notify();
"""


def _on_postgresql(sql):
    # The relay LISTENs on PostgreSQL only; SQLite has no NOTIFY and the relay polls it.
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("events", "0002_outbox_inbox_dead_letters")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
