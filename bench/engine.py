"""The copy engine alone, as its own process, so the benchmark can measure its wall time and peak RSS.

    python -m bench.engine SOURCE_URL TARGET_URL [--repository-prefix P] [--concurrency N]

Imports only replication.oci (no Django), prints the CopyResult as one JSON line.
"""
import argparse
import dataclasses
import json
import sys

from replication.oci import RegistryClient, copy_registry, tune_socket_reads


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine")
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--repository-prefix", default="")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)

    tune_socket_reads()  # as the product's worker and copy_registry do, so the figures match theirs
    with RegistryClient(args.source) as source, RegistryClient(args.target) as target:
        result = copy_registry(source, target, repository_prefix=args.repository_prefix,
                               concurrency=args.concurrency)
    summary = dataclasses.asdict(result)
    summary["copied"] = len(result.copied)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
