from django.core.management.base import BaseCommand

from polls.worker import worker_loop, worker_step


class Command(BaseCommand):
    help = "Refresh live tallies and publish checkpoints, in a loop (or --once, for cron)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="do one pass and exit")
        parser.add_argument("--interval", type=float, default=None, help="seconds between passes")

    def handle(self, *args, once=False, interval=None, **options):
        if once:
            done = worker_step()
            self.stdout.write(f"{done['folded']} ballots tallied, {done['checkpoints']} checkpoints")
            return
        self.stdout.write("Encore worker running (Ctrl-C to stop)")
        worker_loop(interval=interval)
