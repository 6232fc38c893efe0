"""Running background work: the runner (state, progress, heartbeat, retries, failures) and one
module per job kind (jobs/kinds/). It sits above the services, whose work it runs; services
record work below it, through replication/dispatch.py with the specs of replication/job_specs.py.
"""
