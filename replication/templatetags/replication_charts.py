"""{% registry_replication_charts registry as charts %}: both windows of the registry page's charts."""
from django import template

from .. import charts, selectors
from ..choices import MetricsWindow

register = template.Library()


@register.simple_tag
def registry_replication_charts(registry) -> list[dict]:
    """Both windows drawn at once (from one scan), so switching needs no reload and no script."""
    windows = []
    for window, figures in zip(MetricsWindow, selectors.registry_replication_metrics_windows(
            registry=registry, windows=[window.value for window in MetricsWindow])):
        windows.append({
            "value": window.value, "label": window.label, "figures": figures,
            "legend": charts.legend(figures),
            "lag_svg": charts.lag_chart(figures), "copied_svg": charts.copied_chart(figures),
            "bucket_hours": figures.bucket_seconds // 3600,
            "copied_total": sum(sum(s.images_copied) for s in figures.regions),
        })
    return windows
