"""What every benchmark shares: the project root, one measured trial, and the embedded-defaults environment
of the portal processes it starts (one folder, shared with nothing)."""
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Trial:
    seconds: float
    peak_rss: int | None  # bytes; None when not measured
    cpu: float | None = None  # user + system seconds of the copying process
    target_cpu: float | None = None  # user + system seconds of the target registry during the copy
    source_cpu: float | None = None  # user + system seconds of the source registry during the copy


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
    # DEBUG is off by default and then the portal refuses to start without a key: one of its own per run.
    env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    return env


def process_tree_cpu(pid: int) -> float:
    """User + system seconds so far of a process and its living descendants (gunicorn's, celery's pool)."""
    import psutil

    try:
        main = psutil.Process(pid)
        processes = [main, *main.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def stop_children(children: list[subprocess.Popen]) -> None:
    """Stop the processes a benchmark started, newest first: TERM, then KILL after 20 s."""
    for child in reversed(children):
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def workdir_finish(directory: Path, *, keep: bool) -> None:
    """Keep the run's folder when asked (to read its logs), else remove it."""
    if keep:
        print(f"kept {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)
