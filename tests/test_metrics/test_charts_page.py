"""The registry page draws both charts of both windows from the recorded copies, server-side."""
import re
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from replication import charts
from replication.models import RoleAssignment

from .conftest import image_copied


def test_the_registry_page_draws_lag_and_copies_for_both_windows(contoso, admin_user):
    recent = timezone.now() - timedelta(minutes=30)
    image_copied(contoso, region="eastus", reference="a", pushed_at=recent, lag_seconds=4)
    image_copied(contoso, region="westeurope", reference="a", pushed_at=recent, lag_seconds=9)
    image_copied(contoso, region="westeurope", reference="b", pushed_at=recent - timedelta(days=3), lag_seconds=300)
    client = Client()
    client.force_login(admin_user)

    html = client.get("/registries/contoso/").content.decode()

    start = html.index('id="replication-charts"')
    section = html[start:html.index("</section>", start)]
    windows = re.findall(r'<div class="chart-window" data-window="(\w+)">', section)
    assert windows == ["24h", "7d"]
    day, week = section.split('data-window="7d"')
    # A point per region and bucket with copies; a bar per region and bucket with copies.
    assert re.search(r'data-chart="lag" data-points="2"', day) and re.search(r'data-chart="copied" data-points="2"', day)
    assert re.search(r'data-chart="lag" data-points="3"', week) and re.search(r'data-chart="copied" data-points="3"', week)
    assert "West Europe, " in day and "mean 9 s, max 9 s, 1 image(s)" in day
    assert "mean 5 min" in week and "mean 5 min" not in day  # the 3-day-old copy: only in the 7-day window
    assert "2 in the last 24 hours" in day and "3 in the last 7 days" in week
    assert 'href="http' not in section and "<script" not in section  # nothing from the network


def test_a_pull_user_sees_the_charts(contoso, django_user_model):
    puller = django_user_model.objects.create_user("paula")
    RoleAssignment.objects.create(registry=contoso, user=puller, role="pull")
    client = Client()
    client.force_login(puller)
    assert 'id="replication-charts"' in client.get("/registries/contoso/").content.decode()


def test_axis_maxima_and_durations_read_well():
    assert [charts.nice_ceiling(v) for v in (0, 0.7, 3, 7, 12, 26, 480)] == [1, 1, 5, 10, 20, 50, 500]
    assert [charts.duration_label(v) for v in (4, 90, 150, 7200)] == ["4 s", "90 s", "2.5 min", "2 h"]
