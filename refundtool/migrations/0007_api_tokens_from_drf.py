"""DRF's plain-text API tokens become knox tokens, stored as digests, and their table goes.

The service once authenticated the API with rest_framework.authtoken, which keeps every token in
clear text. Since knox replaced it, that table stayed behind in databases created before: unused,
but a copy of every old credential. Each old token is carried over (its digest and key, the owner,
an expiry REFUNDTOOL_API_TOKEN_TTL_DAYS from now), so API clients go on working, and the table,
DRF's migration records and its content type are dropped.
"""

from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS

DRF_TABLE = "authtoken_token"


def carry_over(apps, schema_editor):
    connection = schema_editor.connection
    if DRF_TABLE not in connection.introspection.table_names():
        return
    AuthToken = apps.get_model("knox", "AuthToken")
    expiry = timezone.now() + timedelta(days=settings.REFUNDTOOL_API_TOKEN_TTL_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id FROM {DRF_TABLE}")  # noqa: S608 - a constant name
        old = cursor.fetchall()
    AuthToken.objects.bulk_create(
        AuthToken(digest=hash_token(key), token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH], user_id=user_id, expiry=expiry)
        for key, user_id in old
    )
    schema_editor.execute(f"DROP TABLE {DRF_TABLE}")
    schema_editor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")
    apps.get_model("contenttypes", "ContentType").objects.filter(app_label="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("refundtool", "0006_mark_code_index"),
        ("knox", "0009_extend_authtoken_field"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(carry_over, migrations.RunPython.noop, elidable=True)]
