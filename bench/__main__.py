"""`python -m bench [options]` runs the copy benchmark; `python -m bench lag ...` the lag benchmark;
`python -m bench push-stages ...` where a push waits (bench/push_stages.py);
`python -m bench scale ...` what many tags cost (bench/scale.py); `python -m bench notify-lanes ...` how long a
registry's notifications queue, in one lane and in two (bench/notify_lanes.py); `python -m bench engine [options]` the copy
benchmark on the mid-size corpus and large blobs: manage.py copy_registry, skopeo sync, the engine, a plain copier
and the target's own ingest, side by side."""
import sys


def main(argv: list[str]) -> int:
    if argv[:1] == ["lag"]:
        from bench import lag

        return lag.main(argv[1:]) or 0
    if argv[:1] == ["push-stages"]:
        from bench import push_stages

        return push_stages.main(argv[1:]) or 0
    if argv[:1] == ["notify-lanes"]:
        from bench import notify_lanes

        return notify_lanes.main(argv[1:]) or 0
    if argv[:1] == ["scale"]:
        from bench import scale

        return scale.main(argv[1:]) or 0
    from bench import copy_bench

    if argv[:1] == ["engine"]:  # the preset first: options given after it override it
        return copy_bench.main(copy_bench.ENGINE_PRESET + argv[1:])
    return copy_bench.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
