import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Event intake, per-image replication status and reconcile runs (continuous replication)."""

    dependencies = [("replication", "0002_seed_catalog")]

    operations = [
        migrations.CreateModel(
            name='ReconcileRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started_at', models.DateTimeField(auto_now_add=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('regions_checked', models.JSONField(default=list)),
                ('regions_unreachable', models.JSONField(default=dict)),
                ('tags_checked', models.PositiveIntegerField(default=0)),
                ('differences', models.JSONField(default=list)),
                ('difference_count', models.PositiveIntegerField(default=0)),
                ('jobs_queued', models.JSONField(default=list)),
                ('error', models.TextField(blank=True)),
                ('registry', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reconcile_runs', to='replication.registry')),
            ],
            options={
                'ordering': ['-started_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='ImageReplication',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('repository', models.CharField(max_length=255)),
                ('reference', models.CharField(max_length=128)),
                ('digest', models.CharField(max_length=100)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('complete', 'Complete'), ('failed', 'Failed')], default='pending', max_length=16)),
                ('failure_reason', models.TextField(blank=True)),
                ('pushed_at', models.DateTimeField()),
                ('completed_at', models.DateTimeField(blank=True, null=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('job', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='images', to='replication.replicationjob')),
                ('region', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='image_replications', to='replication.region')),
                ('registry', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='image_replications', to='replication.registry')),
                ('source_region', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='replication.region')),
            ],
            options={
                'ordering': ['repository', 'reference', 'region__name'],
                'indexes': [models.Index(fields=['registry', 'repository', 'digest'], name='image_replication_digest'), models.Index(fields=['region', 'status', 'pushed_at'], name='image_replication_pending')],
                'constraints': [models.UniqueConstraint(fields=('registry', 'region', 'repository', 'reference'), name='image_replication_unique')],
            },
        ),
        migrations.CreateModel(
            name='RegistryEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event_id', models.CharField(max_length=100)),
                ('action', models.CharField(choices=[('push', 'Push'), ('delete', 'Delete')], max_length=16)),
                ('repository', models.CharField(max_length=255)),
                ('tag', models.CharField(blank=True, max_length=128)),
                ('digest', models.CharField(blank=True, max_length=100)),
                ('media_type', models.CharField(blank=True, max_length=200)),
                ('size', models.BigIntegerField(default=0)),
                ('timestamp', models.DateTimeField()),
                ('from_replication', models.BooleanField(default=False)),
                ('user_agent', models.CharField(blank=True, max_length=300)),
                ('received_at', models.DateTimeField(auto_now_add=True)),
                ('processed_at', models.DateTimeField(blank=True, null=True)),
                ('region', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='registry_events', to='replication.region')),
                ('registry', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='replication.registry')),
            ],
            options={
                'ordering': ['-timestamp', '-id'],
                'indexes': [models.Index(fields=['registry', 'repository', 'tag', 'timestamp'], name='registry_event_tag'), models.Index(fields=['registry', 'repository', 'digest', 'timestamp'], name='registry_event_digest')],
                'constraints': [models.UniqueConstraint(fields=('region', 'event_id'), name='registry_event_unique_id')],
            },
        ),
    ]
