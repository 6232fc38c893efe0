"""The OCI reference grammar: repository names, tags, digests and their combinations."""
import pytest

from replication.oci.reference import (
    Digest,
    InvalidDigest,
    InvalidReference,
    InvalidRepository,
    InvalidTag,
    Reference,
    is_digest,
    is_repository,
    is_tag,
    join_reference,
    parse_digest,
    split_reference,
)

SHA256 = "sha256:" + "ab" * 32


@pytest.mark.parametrize("name, valid", [
    ("web", True), ("contoso/public/web", True), ("a.b_c__d-e--f/g", True), ("x" * 255, True),
    ("Web", False), ("web/", False), ("/web", False), ("web..x", False), ("web_-x", False), ("x" * 256, False),
    ("", False), ("web:1", False),
])
def test_repository_names_follow_the_distribution_spec(name, valid):
    assert is_repository(name) is valid


@pytest.mark.parametrize("tag, valid", [
    ("1.2", True), ("latest", True), ("_x", True), ("V1.0-rc_2", True), ("a" * 128, True),
    (".x", False), ("-x", False), ("a" * 129, False), ("bad tag", False), ("a:b", False), ("", False),
])
def test_tags_follow_the_distribution_spec(tag, valid):
    assert is_tag(tag) is valid


@pytest.mark.parametrize("reference, valid", [
    (SHA256, True), ("sha512:" + "c" * 128, True), ("sha384:" + "d" * 96, True),
    ("sha256:abc", False),  # too short
    ("sha256:" + "a" * 65, False), ("sha256:" + "A" * 64, False), ("sha256:" + "g" * 64, False),
    ("md5:" + "a" * 32, False), ("1.0", False), ("", False), (None, False),
])
def test_a_digest_is_a_supported_algorithm_with_its_full_hex_length(reference, valid):
    assert is_digest(reference) is valid


def test_parse_digest_splits_algorithm_and_hex_and_says_what_is_wrong():
    assert parse_digest(SHA256) == Digest("sha256", "ab" * 32) and str(parse_digest(SHA256)) == SHA256
    with pytest.raises(InvalidDigest, match="64 lowercase hex"):
        parse_digest("sha256:abc")
    with pytest.raises(ValueError):  # callers outside the engine may catch the builtin
        parse_digest("nope")


@pytest.mark.parametrize("text, expected", [
    ("web:1.2", Reference("web", "1.2", None)),
    ("contoso/web", Reference("contoso/web", None, None)),
    (f"contoso/web@{SHA256}", Reference("contoso/web", None, SHA256)),
    (f"contoso/web:1.2@{SHA256}", Reference("contoso/web", "1.2", SHA256)),
])
def test_split_reference_separates_repository_tag_and_digest(text, expected):
    assert split_reference(text) == expected


@pytest.mark.parametrize("text, error", [
    ("Web:1", InvalidRepository), ("web:bad tag", InvalidTag), ("web:", InvalidTag),
    ("web@sha256:abc", InvalidDigest), ("web/:1", InvalidRepository),
])
def test_split_reference_names_the_part_that_is_wrong(text, error):
    with pytest.raises(error):
        split_reference(text)
    assert issubclass(error, InvalidReference)


def test_join_reference_uses_at_for_digests_and_colon_for_tags():
    assert join_reference("web", SHA256) == f"web@{SHA256}"
    assert join_reference("web", "1.2") == "web:1.2"
