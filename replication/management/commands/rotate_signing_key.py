from django.core.management.base import BaseCommand, CommandError

from replication.exceptions import ServiceError
from replication.token_service import keys


class Command(BaseCommand):
    help = ("Rotate the token service's signing key in stages: --stage (new cert joins the bundle; restart the "
            "registries), --activate (sign with it), --retire (drop old certs, a token lifetime later).")

    def add_arguments(self, parser):
        parser.add_argument("--stage", action="store_true",
                            help="Create the next key; signing stays on the current one.")
        parser.add_argument("--activate", action="store_true",
                            help="Sign with the staged key; the old cert stays trusted.")
        parser.add_argument("--retire", action="store_true", help="Drop the certs of keys that no longer sign.")
        parser.add_argument("--force", action="store_true", help="Retire even within a token lifetime of activation.")

    def handle(self, *args, stage, activate, retire, force, **options):
        try:
            if stage:
                staged = keys.signing_key_stage()
                self.stdout.write(f"Staged {staged}; its certificate is in {keys.root_bundle_path()}.\n"
                                  "Restart every regional registry (run_regions / run_local write the bundle at "
                                  "start) before --activate: a registry trusts only the bundle it started with.")
            if activate:
                self.stdout.write(f"Signing with {keys.signing_key_activate()}; the previous key stays trusted.")
            if retire:
                retired = keys.signing_key_retire(force=force)
                self.stdout.write(f"Retired {', '.join(retired) or 'nothing'}; registries drop them when restarted.")
        except ServiceError as error:
            raise CommandError(error.message) from error
        status = keys.signing_key_status()
        for key_id, info in status["keys"].items():
            role = "active" if key_id == status["active"] else "staged" if key_id == status["staged"] else "trusted"
            self.stdout.write(f"{role:<8} {key_id}  kid {status['kids'][key_id]}")
        self.stdout.write(f"bundle   {status['bundle']}")
