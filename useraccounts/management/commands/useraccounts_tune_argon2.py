"""``manage.py useraccounts_tune_argon2 --target-ms 250``: Argon2 parameters for this
server, measured, with how to use them."""

from __future__ import annotations

import statistics
import time

from argon2.low_level import Type, hash_secret_raw
from django.core.management.base import BaseCommand, CommandError

MIN_MEMORY_KIB = 8 * 1024
MAX_TIME_COST = 64


class Command(BaseCommand):
    help = (
        "Measure Argon2id on this server and print the parameters (time cost, memory cost, "
        "parallelism) that take about --target-ms per hash, and how to set them. Run it on "
        "the production machine: the answer depends on its CPU and memory."
    )

    def add_arguments(self, parser):
        parser.add_argument("--target-ms", type=float, default=250, help="time per hash (250)")
        parser.add_argument(
            "--memory-mib",
            type=int,
            default=100,
            help="memory per hash to start from, in MiB (100, Django's default)",
        )
        parser.add_argument(
            "--parallelism", type=int, default=8, help="lanes per hash (8, Django's default)"
        )
        parser.add_argument("--rounds", type=int, default=3, help="measurements per setting")

    def handle(
        self, *args, target_ms: float, memory_mib: int, parallelism: int, rounds: int, **options
    ) -> None:
        if target_ms <= 0 or memory_mib <= 0 or parallelism <= 0 or rounds <= 0:
            raise CommandError(
                "--target-ms, --memory-mib, --parallelism and --rounds must be positive."
            )
        memory = max(memory_mib * 1024, MIN_MEMORY_KIB)
        # RFC 9106: spend memory first. While one pass over the memory is already too
        # slow, halve the memory; then add passes until the target is reached.
        while memory > MIN_MEMORY_KIB and self.measure(1, memory, parallelism, rounds) > target_ms:
            memory //= 2
        time_cost = 1
        elapsed = self.measure(time_cost, memory, parallelism, rounds)
        while elapsed < target_ms and time_cost < MAX_TIME_COST:
            time_cost += 1
            elapsed = self.measure(time_cost, memory, parallelism, rounds)
        self.stdout.write(
            f"Argon2id with time_cost={time_cost}, memory_cost={memory} (KiB), "
            f"parallelism={parallelism} takes {elapsed:.0f} ms per hash here "
            f"(target {target_ms:.0f} ms).\n\n"
            "To use it, subclass Django's hasher and put it first:\n\n"
            "    # myproject/hashers.py\n"
            "    from django.contrib.auth.hashers import Argon2PasswordHasher\n\n"
            "    class TunedArgon2PasswordHasher(Argon2PasswordHasher):\n"
            f"        time_cost = {time_cost}\n"
            f"        memory_cost = {memory}\n"
            f"        parallelism = {parallelism}\n\n"
            "    # settings.py\n"
            "    PASSWORD_HASHERS = [\n"
            '        "myproject.hashers.TunedArgon2PasswordHasher",\n'
            '        "django.contrib.auth.hashers.Argon2PasswordHasher",\n'
            "    ]\n\n"
            "Existing hashes are upgraded at each user's next login (one more hash, that once)."
        )

    def measure(self, time_cost: int, memory: int, parallelism: int, rounds: int) -> float:
        """Median milliseconds of one Argon2id hash with these parameters."""
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            hash_secret_raw(
                b"a password of ordinary length",
                b"a sixteen b salt",
                time_cost=time_cost,
                memory_cost=memory,
                parallelism=parallelism,
                hash_len=32,
                type=Type.ID,
            )
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)
