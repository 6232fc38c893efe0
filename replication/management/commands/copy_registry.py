"""`manage.py copy_registry SOURCE_URL TARGET_URL`: every repository of one OCI registry into another.

manage.py runs replication/oci/cli.py directly, without setting Django up; this command is the same code for
`call_command` and `django-admin`.
"""
from django.core.management.base import BaseCommand, CommandError

from replication.oci.cli import HELP, CopyCommandError, ProgressPrinter, add_arguments, copy_command, summary

__all__ = ["Command", "ProgressPrinter", "summary"]


class Command(BaseCommand):
    help = HELP
    requires_system_checks = []  # a copy touches no model, URL or template: the checks cost seconds for nothing

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        arguments = {name: options[name] for name in (
            "source_url", "target_url", "repository_prefix", "target_prefix", "concurrency", "username", "password",
            "password_stdin", "target_username", "target_password")}
        # The raw stream: the bar redraws with \r, without Django's line endings.
        try:
            result = copy_command(**arguments, stream=self.stdout._out)
        except CopyCommandError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(summary(result))
