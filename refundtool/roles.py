"""The staff roles: Django groups and the permissions each one holds.

A data migration creates them; ``roles_ensure`` is idempotent, so running it again (after a test
flush, or when a role gains a permission in a new migration) only adds what is missing.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.apps.registry import Apps

SUPPORT = "Support"
ACCOUNTANT = "Accountant"

# Permissions that no model's Meta declares: what a role may do beyond the CRUD permissions.
ACT_ON_REFUND = "refundtool.act_on_refund"
EXPORT_REFUND_REPORTS = "refundtool.export_refund_reports"
CUSTOM_PERMISSIONS = {
    ACT_ON_REFUND: ("refund", "Can act on refunds (retry, cancel, flag, resolve)"),
    EXPORT_REFUND_REPORTS: ("refund", "Can download refund reports"),
}

ROLES: dict[str, list[str]] = {
    # Views refunds and acts on them through the audited actions; the status itself is never editable.
    SUPPORT: ["refundtool.view_refund", ACT_ON_REFUND],
    # Views refunds and downloads reports; no actions.
    ACCOUNTANT: ["refundtool.view_refund", EXPORT_REFUND_REPORTS],
}


def roles_ensure(*, apps: Apps = global_apps) -> None:
    """Creates the groups of ROLES with exactly their permissions (and any permission row still missing).

    `apps` is the migration's historical registry when a migration calls it.
    """
    Group = apps.get_model("auth", "Group")
    for group_name, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.set([_permission(apps, name) for name in permissions])


def _permission(apps: Apps, name: str) -> object:
    """The Permission row named "app_label.codename", created when it does not exist yet.

    On a fresh database a data migration runs before post_migrate creates content types and the
    default permissions, so both are created here when missing (post_migrate then finds them).
    """
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    app_label, codename = name.split(".", 1)
    if name in CUSTOM_PERMISSIONS:
        model, description = CUSTOM_PERMISSIONS[name]
    else:
        action, model = codename.split("_", 1)
        description = f"Can {action} {apps.get_model(app_label, model)._meta.verbose_name}"
    content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename=codename, defaults={"name": description}
    )
    return permission
