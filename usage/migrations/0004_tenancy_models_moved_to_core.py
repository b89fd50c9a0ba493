"""Organization and OrganizationMembership now live in core (core 0002): the FKs point there in
Django's state; the database is unchanged (same tables, same constraints)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('usage', '0003_session_references_checked_by_writers'),
        ('core', '0002_tenancy_models'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='device',
                    name='organization',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='devices', to='core.organization'),
                ),
                migrations.AlterField(
                    model_name='team',
                    name='organization',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='teams', to='core.organization'),
                ),
                migrations.AlterField(
                    model_name='user',
                    name='organization',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='users', to='core.organization'),
                ),
                migrations.AlterField(
                    model_name='usageevent',
                    name='organization',
                    field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='usage_events', to='core.organization'),
                ),
                migrations.DeleteModel(name='OrganizationMembership'),
                migrations.DeleteModel(name='Organization'),
            ],
        ),
    ]
