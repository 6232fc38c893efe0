"""`manage.py copy_registry`: real registries on both sides."""
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from replication.dataplane import find_free_port
from replication.management.commands.copy_registry import ProgressPrinter
from replication.oci import CopyProgress, RegistryClient
from replication.oci.corpus import build_corpus, push_corpus

ROOT = Path(__file__).resolve().parents[2]


def run(*args) -> str:
    out = io.StringIO()
    call_command("copy_registry", *args, stdout=out)
    return out.getvalue()


def test_every_tag_arrives_with_its_digest_and_the_summary_counts_it(registry_pair):
    source, target = registry_pair
    with RegistryClient(source.url) as client:
        pushed = push_corpus(client, build_corpus(31, repositories=3, tags_per_repo=2), "contoso/")
        push_corpus(client, build_corpus(32, repositories=1, tags_per_repo=1), "other/")

    output = run(source.url, target.url, "--repository-prefix", "contoso/", "--concurrency", "4")

    with RegistryClient(target.url) as client:
        for (repository, tag), digest in pushed.items():
            assert client.head_manifest(repository, tag).digest == digest
        assert list(client.catalog("other/")) == []
    assert re.search(r"blobs: \d+ uploaded, [1-9]\d* mounted, 0 skipped", output), output
    assert re.search(r"bytes uploaded: [\d,.]+ MB in [\d.]+ s \([\d.]+ MB/s\)", output), output
    # 3 repositories × 2 images (tags 1.0, and 1.1 = latest); app00's are indexes with 2 platforms each.
    assert "images copied: 6 (9 tags; 0 tags already there)" in output
    assert "manifests: 13 written, 0 skipped" in output

    again = run(source.url, target.url, "--repository-prefix", "contoso/")
    assert f"{len(pushed)} tags already there" in again and "blobs: 0 uploaded, 0 mounted" in again


def test_target_prefix_renames_the_repositories(registry_pair):
    source, target = registry_pair
    with RegistryClient(source.url) as client:
        pushed = push_corpus(client, build_corpus(33, repositories=1, tags_per_repo=1), "src/")
    run(source.url, target.url, "--repository-prefix", "src/", "--target-prefix", "mirror/")
    with RegistryClient(target.url) as client:
        for (repository, tag), digest in pushed.items():
            assert client.head_manifest(repository.replace("src/", "mirror/", 1), tag).digest == digest


def test_an_unreachable_source_is_a_command_error():
    with pytest.raises(CommandError, match="cannot talk to a registry"):
        run(f"http://127.0.0.1:{find_free_port()}", f"http://127.0.0.1:{find_free_port()}")


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise():
    progress = CopyProgress(manifests_total=4, manifests_done=1, blobs_total=10, blobs_done=5,
                            bytes_total=200_000_000, bytes_done=50_000_000)
    tty = io.StringIO()
    ProgressPrinter(tty, tty=True)(progress)
    assert tty.getvalue().startswith("\r[#######-----") and "25%" in tty.getvalue()
    plain = io.StringIO()
    printer = ProgressPrinter(plain, tty=False)
    printer(progress)
    printer(progress)  # within the interval: no second line
    assert plain.getvalue() == ("progress: 50.0 MB / 200.0 MB, blobs 5/10, manifests 1/4, "
                                + plain.getvalue().split("manifests 1/4, ")[1])
    assert plain.getvalue().count("\n") == 1


def manage_py(*args, env_dir) -> subprocess.CompletedProcess:
    """`manage.py ...` as an operator runs it, where Django could not even load its settings: no secret key
    anywhere (and not a test run), so a Django set-up would stop with ImproperlyConfigured."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DJANGO_SECRET_KEY", "DJANGO_DEBUG", "DJANGO_SETTINGS_MODULE", "PYTEST_VERSION")}
    env["GEOREGISTRY_VAR_DIR"] = str(env_dir)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_manage_py_copies_without_setting_django_up(registry_pair, tmp_path):
    source, target = registry_pair
    with RegistryClient(source.url) as client:
        pushed = push_corpus(client, build_corpus(34, repositories=2, tags_per_repo=2), "contoso/")

    done = manage_py("copy_registry", source.url, target.url, "--repository-prefix", "contoso/", "--concurrency", "3",
                     env_dir=tmp_path)

    assert done.returncode == 0, done.stderr
    assert f"({len(pushed)} tags; 0 tags already there)" in done.stdout
    with RegistryClient(target.url) as client:
        for (repository, tag), digest in pushed.items():
            assert client.head_manifest(repository, tag).digest == digest
    # The same environment fails for a command that needs Django: the copy above did not set it up.
    assert "No SECRET_KEY" in manage_py("check", env_dir=tmp_path).stderr


def test_manage_py_reports_a_failed_copy_on_stderr_with_status_1(tmp_path):
    done = manage_py("copy_registry", f"http://127.0.0.1:{find_free_port()}", f"http://127.0.0.1:{find_free_port()}",
                     "--concurrency", "0", env_dir=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == "CommandError: --concurrency must be at least 1"
