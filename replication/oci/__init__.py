"""The OCI Distribution wire protocol: a registry client, the copy engine, a test corpus.

Pure Python and httpx; nothing here imports Django, so workers and tests use it directly.
"""
from .client import (
    Descriptor,
    DigestMismatchError,
    Manifest,
    RegistryClient,
    RegistryError,
    digest_of,
    tune_socket_reads,
)
from .copy import (
    CopyError,
    CopyProgress,
    CopyResult,
    ImageRef,
    copy_images,
    copy_registry,
    delete_image,
    tag_manifest,
)

__all__ = [
    "CopyError",
    "CopyProgress",
    "CopyResult",
    "Descriptor",
    "DigestMismatchError",
    "ImageRef",
    "Manifest",
    "RegistryClient",
    "RegistryError",
    "copy_images",
    "copy_registry",
    "delete_image",
    "digest_of",
    "tag_manifest",
    "tune_socket_reads",
]
