"""The environment a benchmark gives the portal processes it starts: the embedded defaults in one folder."""
import os
from pathlib import Path


def embedded_defaults_env(directory: Path, **extra: str) -> dict[str, str]:
    """SQLite and the filesystem broker under `directory`, so a run shares nothing with `make run`."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "GEOREGISTRY_VAR_DIR": str(directory),
        "DATABASE_URL": f"sqlite:///{directory / 'portal.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_FOLDER": str(directory / "broker"),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("PYTEST_VERSION", None)  # settings would otherwise pick per-test folders
    return env
