"""Secrets kept on this machine under var/: private folders (0700), private files (0600), the generated SECRET_KEY.

Imports nothing from Django: settings use it before Django is configured, and `make run` runs
`python -m portal.local_secrets` to create the key before anything loads the settings.
"""
import os
import secrets
import stat
import sys
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir_ensure(path: Path) -> Path:
    """Create `path` (and missing parents) readable by this user only; tighten it if it already exists."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    mode = path.stat().st_mode
    # A sticky folder is a shared one such as /tmp (GEOREGISTRY_VAR_DIR=/tmp): never narrow it for everyone.
    if mode & 0o077 and not mode & stat.S_ISVTX:
        path.chmod(PRIVATE_DIR_MODE)
    return path


def private_file_restrict(path: Path) -> None:
    """Make an existing file 0600 (files created by older versions were 0644)."""
    if path.exists() and path.stat().st_mode & 0o077:
        path.chmod(PRIVATE_FILE_MODE)


def private_file_create(path: Path, *, content: str = "") -> bool:
    """Create `path` with mode 0600 from the first byte (no window where others could read it).

    Returns False, leaving the file alone but restricted, when it already exists.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        private_file_restrict(path)
        return False
    with os.fdopen(descriptor, "w") as file:
        file.write(content)
    return True


def secret_key_file_ensure(path: Path) -> Path:
    """Generate a random SECRET_KEY into `path` once; later starts keep it (sessions and tokens survive)."""
    private_dir_ensure(path.parent)
    private_file_create(path, content=secrets.token_urlsafe(50))
    return path


def secret_key_file_read(path: Path) -> str:
    """The key kept in `path`, or '' when there is none."""
    if not path.exists():
        return ""
    private_file_restrict(path)
    return path.read_text().strip()


def var_dir() -> Path:
    """The same folder the settings use (GEOREGISTRY_VAR_DIR, default var/ beside manage.py)."""
    return Path(os.environ.get("GEOREGISTRY_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))


if __name__ == "__main__":
    created = secret_key_file_ensure(var_dir() / "secret-key.txt")
    print(f"SECRET_KEY kept in {created} (mode 0600)", file=sys.stderr)
