"""Background work: services record it here, the runner does it, tasks only carry ids.

Services import `dispatch` (job_record, task_send_on_commit) and `specs`; the kind modules
import the services; the runner imports the kinds; tasks.py imports the runner.
"""
