"""The OCI distribution spec's grammar for references: repository names, tags and digests.

The one place that knows what a valid name looks like. The checks answer True/False; the
parsers raise an `InvalidReference` (a ValueError) saying which part is wrong, so callers
can word their own message for it.
"""
from __future__ import annotations

import re
from typing import NamedTuple

# The distribution spec's <name>: path components of lower-case letters and digits joined by one
# '.', one or two '_', or any number of '-' (a pattern, so others can embed it, e.g. token scopes).
REPOSITORY_PATTERN = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
REPOSITORY_RE = re.compile(rf"^{REPOSITORY_PATTERN}$")
REPOSITORY_MAX_LENGTH = 255  # what many clients enforce on the whole name
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
DIGEST_RE = re.compile(r"^(?P<algorithm>[a-z0-9]+(?:[+._-][a-z0-9]+)*):(?P<encoded>[a-zA-Z0-9=_-]+)$")
# The algorithms this engine can verify, and the length of their lowercase hex encoding.
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
DIGEST_ALGORITHMS = tuple(DIGEST_HEX_LENGTHS)
_HEX = re.compile(r"^[0-9a-f]+$")


class InvalidReference(ValueError):
    """A name, tag, digest or reference that the OCI grammar does not allow."""


class InvalidRepository(InvalidReference):
    pass


class InvalidTag(InvalidReference):
    pass


class InvalidDigest(InvalidReference):
    pass


class Digest(NamedTuple):
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


class Reference(NamedTuple):
    """`repository:tag`, `repository@digest` or `repository:tag@digest`; missing parts are None."""

    repository: str
    tag: str | None
    digest: str | None


def is_repository(name: str) -> bool:
    return isinstance(name, str) and len(name) <= REPOSITORY_MAX_LENGTH and bool(REPOSITORY_RE.match(name))


def is_tag(tag: str) -> bool:
    return isinstance(tag, str) and bool(TAG_RE.match(tag))


def parse_digest(digest: str) -> Digest:
    """`sha256:<64 lowercase hex>` (or sha384, sha512) → Digest; InvalidDigest says what is wrong."""
    match = DIGEST_RE.match(digest) if isinstance(digest, str) else None
    if not match:
        raise InvalidDigest(f"{digest!r} is not a digest (algorithm:hex)")
    algorithm, encoded = match["algorithm"], match["encoded"]
    if algorithm not in DIGEST_HEX_LENGTHS:
        raise InvalidDigest(f"{digest!r} uses {algorithm!r}; supported: {', '.join(DIGEST_ALGORITHMS)}")
    length = DIGEST_HEX_LENGTHS[algorithm]
    if len(encoded) != length or not _HEX.match(encoded):
        raise InvalidDigest(f"{digest!r} is not a complete {algorithm} digest ({length} lowercase hex characters)")
    return Digest(algorithm, encoded)


def is_digest(reference: str) -> bool:
    """True for a complete digest of a supported algorithm (a sha256 digest has 64 hex characters)."""
    try:
        parse_digest(reference)
    except InvalidDigest:
        return False
    return True


def looks_like_digest(reference: str) -> bool:
    """True when the text is meant as a digest (it has the `algorithm:` form), complete or not.

    A tag can never contain ':', so this tells "a tag" from "a digest, perhaps mistyped".
    """
    return isinstance(reference, str) and ":" in reference


def split_reference(text: str) -> Reference:
    """Split and check `repo:tag`, `repo@sha256:...` or `repo:tag@sha256:...`.

    The tag separator is the last ':' after the last '/', so `repo` alone has neither tag nor
    digest. Raises InvalidRepository, InvalidTag or InvalidDigest for the part that is wrong.
    """
    if not isinstance(text, str):
        raise InvalidReference(f"{text!r} is not a reference")
    name, at, digest = text.partition("@")
    if at:
        parse_digest(digest)
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1:]) if colon > last_slash else (name, None)
    if not is_repository(repository):
        raise InvalidRepository(f"{repository!r} is not a repository name")
    if tag is not None and not is_tag(tag):
        raise InvalidTag(f"{tag!r} is not a tag")
    return Reference(repository, tag, digest if at else None)


def join_reference(repository: str, reference: str) -> str:
    """`repository@digest` or `repository:tag`, as a client would write it."""
    return f"{repository}{'@' if is_digest(reference) else ':'}{reference}"
