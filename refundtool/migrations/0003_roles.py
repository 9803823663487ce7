from django.db import migrations

from refundtool.roles import roles_ensure


def create_roles(apps, schema_editor):
    roles_ensure(apps=apps)


class Migration(migrations.Migration):
    """The Support and Accountant groups with their permissions (refundtool/roles.py)."""

    dependencies = [
        ("refundtool", "0002_admin_indexes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
