"""Backends configured like any other: email backends (one that is down, one that is
slow) and an authentication backend standing for a directory or SSO service."""

import time
from smtplib import SMTPServerDisconnected

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.core.mail.backends import locmem
from django.core.mail.backends.base import BaseEmailBackend


class FailingEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise SMTPServerDisconnected("Connection unexpectedly closed")


class SlowEmailBackend(locmem.EmailBackend):
    """An email provider 50 ms away: each message takes that long to hand over, as over
    an SMTP relay or an HTTP API (messages still land in ``mail.outbox``)."""

    delay = 0.05

    def send_messages(self, messages):
        time.sleep(self.delay * len(messages))
        return super().send_messages(messages)


class FixedLoginBackend(BaseBackend):
    """An authentication backend as a directory (LDAP) or SSO service would be: it
    accepts one login and password of its own, which the site's account database knows
    nothing of, for the existing user with ``email``."""

    username = "directory-bob"
    password = "the directory's passphrase"
    email = "bob@example.com"

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username == self.username and password == self.password:
            return get_user_model()._default_manager.filter(email=self.email).first()
        return None

    def get_user(self, user_id):
        return get_user_model()._default_manager.filter(pk=user_id).first()
