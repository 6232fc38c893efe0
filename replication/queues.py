"""Celery queue names: one per region, so that region's worker can run next to its registry."""

PORTAL_QUEUE = "portal"


def region_queue(region_name: str) -> str:
    return f"region.{region_name}"
