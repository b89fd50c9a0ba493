"""The tenancy models move into core: Organization and OrganizationMembership from usage, Client and
ClientGrant from apps_analytics. Only Django's state changes: the tables keep their names (db_table),
their rows and their foreign keys. usage 0004 and apps_analytics 0003 re-point their FKs in state.

The content types (and so permissions and admin log entries) are relabelled to core.
"""

import django.db.models.deletion
import uuid

import core.models
from django.conf import settings
from django.db import migrations, models

MOVED = {"organization": "usage", "organizationmembership": "usage", "client": "apps_analytics", "clientgrant": "apps_analytics"}


def relabel_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    for model, old_label in MOVED.items():
        if not types.filter(app_label="core", model=model).exists():
            types.filter(app_label=old_label, model=model).update(app_label="core")


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    for model, old_label in MOVED.items():
        if not types.filter(app_label=old_label, model=model).exists():
            types.filter(app_label="core", model=model).update(app_label=old_label)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        # The tables were created by these apps' migrations: on a new database they must exist first.
        ('usage', '0003_session_references_checked_by_writers'),
        ('apps_analytics', '0002_drop_redundant_report_fk_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Organization',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('name', models.CharField(max_length=200)),
                    ],
                    options={
                        'db_table': 'usage_organization',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='OrganizationMembership',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='core.organization')),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='usage_membership', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'usage_organizationmembership',
                    },
                ),
                migrations.CreateModel(
                    name='Client',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('name', models.CharField(max_length=200)),
                        ('timezone', models.CharField(default='UTC', max_length=64, validators=[core.models.validate_timezone])),
                    ],
                    options={
                        'db_table': 'apps_analytics_client',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='ClientGrant',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='grants', to='core.client')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='client_grants', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'apps_analytics_clientgrant',
                        'constraints': [models.UniqueConstraint(fields=('user', 'client'), name='client_grant_unique')],
                    },
                ),
            ],
        ),
        migrations.RunPython(relabel_content_types, restore_content_types),
    ]
