"""Replication benchmarks: the copy engine against `skopeo sync`, and the whole portal path.

`python -m bench` (or `make bench`) runs them; `python -m bench --help` lists the options.
"""
