"""Email backends configured like any other: one that is down, one that is slow."""

import time
from smtplib import SMTPServerDisconnected

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
