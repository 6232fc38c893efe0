"""What /readyz checks: the database answers, the broker accepts a connection, and no registry's home region
is recorded as down. Region health is the state beat's probe stored (services/health.py): readiness never
calls a region, so a hung region cannot hang the load balancer's probe."""
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.db import connection

from .choices import RegionHealthState
from .models import Region


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str = ""


def database_check() -> CheckResult:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return CheckResult(ok=True)
    except Exception as exc:  # any driver's error: the answer is "not ready", with the reason
        return CheckResult(ok=False, detail=f"{type(exc).__name__}: {exc}"[:300])


def broker_check() -> CheckResult:
    try:
        with current_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=settings.READYZ_BROKER_TIMEOUT)
        return CheckResult(ok=True)
    except Exception as exc:
        return CheckResult(ok=False, detail=f"{type(exc).__name__}: {exc}"[:300])


def home_regions_check() -> CheckResult:
    """Every region that is some registry's home, by its recorded health: `down` fails; `unknown` (not probed
    yet) does not, or a fresh deployment would never become ready."""
    try:
        down = sorted(Region.objects.filter(home_registries__isnull=False, health__state=RegionHealthState.DOWN)
                      .values_list("name", flat=True).distinct())
    except Exception as exc:
        return CheckResult(ok=False, detail=f"{type(exc).__name__}: {exc}"[:300])
    if down:
        return CheckResult(ok=False, detail=f"home region(s) down: {', '.join(down)}")
    return CheckResult(ok=True)


def readiness() -> dict[str, CheckResult]:
    """Each check by name; the home regions are read only when the database answers."""
    results = {"database": database_check(), "broker": broker_check()}
    results["home_regions"] = (home_regions_check() if results["database"].ok
                               else CheckResult(ok=False, detail="not checked: the database does not answer"))
    return results
