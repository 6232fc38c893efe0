"""Shapes of the continuous-replication API bodies (event intake answers, per-image status)."""
from rest_framework import serializers

from ..choices import ImageReplicationStatus


class EventIntakeResultSerializer(serializers.Serializer):
    recorded = serializers.IntegerField(help_text="New manifest events recorded and queued.")
    duplicates = serializers.IntegerField(help_text="Events already recorded (same region and id).")
    ignored = serializers.IntegerField(help_text="Pulls, blobs, tag deletes, repositories of no registry.")


class RegionReplicationStatusSerializer(serializers.Serializer):
    region = serializers.CharField()
    status = serializers.ChoiceField(choices=ImageReplicationStatus.choices)
    failure_reason = serializers.CharField(allow_blank=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    lag_seconds = serializers.FloatField(allow_null=True, help_text="completed_at − the push's time, for an image "
                                         "replicated after its push; null in its origin region and for images that "
                                         "were there before the replica (its initial sync brought them).")
    arrival = serializers.ChoiceField(choices=["pushed", "initial_sync", "replicated", ""],
                                      help_text="pushed (the origin) | initial_sync | replicated; empty until it "
                                                "arrives")
    initial_sync_seconds = serializers.FloatField(allow_null=True,
                                                  help_text="How long the replica's initial sync ran (arrival "
                                                            "initial_sync).")


class ImageReplicationStatusSerializer(serializers.Serializer):
    """Like ECR's DescribeImageReplicationStatus: one entry per replica region of the registry."""

    repository = serializers.CharField()
    digest = serializers.CharField()
    regions = RegionReplicationStatusSerializer(many=True)
