"""`manage.py copy_registry`: real registries on both sides."""
import io
import re

import pytest
from django.core.management import CommandError, call_command

from replication.dataplane import find_free_port
from replication.management.commands.copy_registry import ProgressPrinter
from replication.oci import CopyProgress, RegistryClient
from replication.oci.corpus import build_corpus, push_corpus


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
