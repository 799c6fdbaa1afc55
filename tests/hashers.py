"""Password hashers configured in the test settings: one that counts, one that fails."""

from django.contrib.auth.hashers import Argon2PasswordHasher, MD5PasswordHasher


class HashCounter:
    """How many times a counting hasher ran (encode or verify)."""

    count = 0


class CountingMD5Hasher(MD5PasswordHasher):
    algorithm = "counting_md5"

    def encode(self, password, salt):
        HashCounter.count += 1
        return super().encode(password, salt)


class CountingArgon2Hasher(Argon2PasswordHasher):
    algorithm = "counting_argon2"

    def encode(self, password, salt):
        HashCounter.count += 1
        return super().encode(password, salt)

    def verify(self, password, encoded):
        HashCounter.count += 1
        return super().verify(password, encoded)


class BrokenHasher(MD5PasswordHasher):
    """A hasher whose backend is broken, as with a missing native library."""

    algorithm = "broken"

    def encode(self, password, salt):
        raise RuntimeError("hasher backend unavailable")

    def verify(self, password, encoded):
        raise RuntimeError("hasher backend unavailable")
