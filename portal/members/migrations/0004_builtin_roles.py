"""The five built-in roles as rows, carrying exactly the permissions they had in code.

An existing site behaves as before until the office edits a role. The permissions are
read from the core and the plugins installed now (their declared default roles).
"""

from django.conf import settings
from django.db import migrations

BUILTIN = [
    # code, name, kinds it may be held at, appointed by
    ("consortium_admin", "Consortium administrator", ["consortium"], []),
    ("director", "Director", [], ["director"]),
    ("staff", "Staff", [], ["director"]),
    ("communications", "Communications", [], ["director"]),
    ("trainer", "Trainer", [], ["director"]),
]


def create_builtin_roles(apps, schema_editor):
    from portal.members.roles import all_permissions

    Role = apps.get_model("members", "Role")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type, _ = ContentType.objects.get_or_create(
        app_label="members", model="memberlibrary"
    )
    declared = all_permissions()
    perms = {p.codename: p for p in Permission.objects.filter(content_type=content_type)}
    for name, (label, _roles) in declared.items():
        if name not in perms:
            perms[name] = Permission.objects.create(
                content_type=content_type, codename=name, name=str(label)[:255]
            )
    mfa = set(getattr(settings, "CONCORD_MFA_REQUIRED_ROLES", ("consortium_admin", "director")))
    roles = {}
    for code, name, kinds, _by in BUILTIN:
        roles[code], _ = Role.objects.get_or_create(
            code=code,
            defaults={"name": name, "library_kinds": kinds, "requires_mfa": code in mfa},
        )
    for code, _name, _kinds, appointed_by in BUILTIN:
        roles[code].appointed_by.add(*(roles[c] for c in appointed_by))
    for name, (_label, default_roles) in declared.items():
        for code in default_roles:
            if code in roles:
                roles[code].permissions.add(perms[name])


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0003_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_builtin_roles, migrations.RunPython.noop)]
