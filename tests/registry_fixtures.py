"""Pytest fixtures that run real CNCF Distribution registries (and find skopeo).

Register with `pytest_plugins = ["tests.registry_fixtures"]`. A missing binary fails the
test with the package to install: a silent skip would hide that nothing was tested.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from replication.dataplane import DISTRIBUTION_BINARY, DistributionProcess, find_free_port


def _require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is not installed: `apt-get install {package}` (these tests need the real thing)")
    return path


@pytest.fixture
def registry_factory(tmp_path: Path):
    """start(name=None, *, content=None, **DistributionProcess kwargs) -> a running registry.

    content: a storage directory to start from (a copy of it), e.g. a corpus pushed once per
    session, which is much faster than pushing it again for every test. Every registry
    started is stopped at teardown.
    """
    _require(DISTRIBUTION_BINARY, "docker-registry")
    started: list[DistributionProcess] = []

    def start(name: str | None = None, *, content: Path | None = None, **kwargs) -> DistributionProcess:
        name = name or f"registry{len(started)}"
        if content is not None:
            shutil.copytree(content, tmp_path / name / "data")
        for attempt in range(3):
            registry = DistributionProcess(
                name,
                port=find_free_port(),
                storage_dir=tmp_path / name / "data",
                http_secret=f"test-secret-{name}",
                log_path=tmp_path / name / "registry.log",
                **kwargs,
            )
            try:
                registry.start()
            except RuntimeError as error:
                # Another process may take the free port before the registry binds it.
                if "address already in use" in str(error) and attempt < 2:
                    continue
                raise
            started.append(registry)
            return registry

    yield start
    for registry in started:
        registry.stop()


@pytest.fixture
def registry_pair(registry_factory):
    """(source, target): two empty registries."""
    return registry_factory("source"), registry_factory("target")


@pytest.fixture
def skopeo() -> str:
    return _require("skopeo", "skopeo")
