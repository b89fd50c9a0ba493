"""Client and ClientGrant now live in core (core 0002): the FKs point there in Django's state; the
database is unchanged (same tables, same constraints)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('apps_analytics', '0002_drop_redundant_report_fk_indexes'),
        ('core', '0002_tenancy_models'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='department',
                    name='client',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='departments', to='core.client'),
                ),
                migrations.AlterField(
                    model_name='clientuser',
                    name='client',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='users', to='core.client'),
                ),
                migrations.AlterField(
                    model_name='application',
                    name='client',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='applications', to='core.client'),
                ),
                migrations.AlterField(
                    model_name='appusagereport',
                    name='client',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='usage_reports', to='core.client'),
                ),
                migrations.DeleteModel(name='ClientGrant'),
                migrations.DeleteModel(name='Client'),
            ],
        ),
    ]
