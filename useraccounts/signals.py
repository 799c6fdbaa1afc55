"""Every signal this app sends: one per event, success or failure.

For all of them ``sender`` is the user model class (``get_user_model()``) and ``request``
is the ``HttpRequest``, or ``None`` when the operation was called from code, the admin or a
management command. Receivers must accept ``**kwargs``.

No signal ever carries a password or a whole token: only ``token_prefix``, the token's
first 10 characters. Success signals are sent inside the operation's transaction, so a
receiver's writes commit or roll back with it. Failure signals are sent with
``send_robust`` after the rollback: a receiver that raises is logged by Django and never
changes the response.
"""

from django.dispatch import Signal

# --- Registration -------------------------------------------------------------------

# kwargs: username (None when the user model has no username field), email.
# Start of signup, before validation or any query.
user_registration_started = Signal()

# kwargs: username, email. After validation and password hashing, just before the user
# row is created.
user_pre_register = Signal()

# kwargs: user. The user is created, default groups assigned and the confirmation email
# sent; before commit.
user_signed_up = Signal()

# kwargs: username, email, error_type, error_message, exception.
# error_type: "validation_error", "email_send_failed", "repository_error",
# "rate_limited", "unexpected_exception". Nothing of the account persists.
user_registration_failed = Signal()

# --- Email confirmation ----------------------------------------------------------------

# kwargs: user, email_address (an EmailAddress), signup (bool). The confirmation email
# was handed to the email backend without error.
email_confirmation_sent = Signal()

# kwargs: user, email_address. The address is now verified in the database.
email_confirmed = Signal()

# kwargs: token_prefix, error_type, exception, user (None unless the token was genuine).
# error_type: "invalid_token", "expired_token", "incorrect_password" (the confirmer did
# not prove they hold the account), "address_taken" (verified on another account),
# "rate_limited", "repository_error", "unexpected_exception". Sent once per confirmation
# request (GET or POST) that failed.
user_email_verification_failed = Signal()

# kwargs: email (str), user (or None), error_type, exception. A confirmation link was
# asked for (resend page, email page) and none was sent.
# error_type: "user_not_found", "already_verified", "undeliverable", "email_send_failed",
# "rate_limited", "repository_error", "unexpected_exception".
email_confirmation_send_failed = Signal()

# --- Login and logout ----------------------------------------------------------------

# kwargs: username (what was typed in the login field). Before any query.
user_authentication_started = Signal()

# kwargs: user. After django.contrib.auth.login() succeeded.
user_logged_in = Signal()

# kwargs: username, reason, user (or None), exception.
# reason: "user_not_found", "incorrect_password", "user_inactive",
# "email_not_verified", "rate_limited", "repository_error", "unexpected_exception".
user_authentication_failed = Signal()

# kwargs: user. After logout. The session has ended: a receiver that raises has its
# writes rolled back and is logged, and the logout stands.
user_logged_out = Signal()

# --- Passwords ---------------------------------------------------------------------------

# kwargs: email. Start of a password reset request.
password_reset_request_started = Signal()

# kwargs: email, user. Token generated and reset email sent.
password_reset_request_processed = Signal()

# kwargs: email, error_type, exception.
# error_type: "user_not_found", "email_send_failed", "rate_limited", "repository_error",
# "unexpected_exception". The page shown is the same as on success, except a rate limit
# or an infrastructure fault.
password_reset_request_failed = Signal()

# kwargs: token_prefix. The new-password form was posted.
password_reset_started = Signal()

# kwargs: user. The password was changed through a reset link.
password_reset = Signal()

# kwargs: token_prefix, error_type, exception, user (or None).
# error_type: "invalid_token", "expired_token", "validation_error", "repository_error",
# "unexpected_exception". Once per request (GET or POST) that found the reset token bad
# or expired, or whose new password was rejected.
password_reset_failed = Signal()

# kwargs: user. A logged-in user changed the password.
password_changed = Signal()

# kwargs: user, error_type, exception. A password change was refused.
# error_type: "incorrect_password", "validation_error", "rate_limited",
# "repository_error", "unexpected_exception".
password_change_failed = Signal()

# kwargs: user. A password was set on an account that had none (unusable password).
password_set = Signal()

# kwargs: user. Any time this app hashed and stored a password.
user_password_set = Signal()

# kwargs: user, exception. Hashing or storing a password failed.
user_password_set_failed = Signal()

# kwargs: user, success (bool). Any time this app checked a password.
user_password_checked = Signal()

# kwargs: user, exception. Checking a password raised (e.g. the hasher failed).
user_password_check_failed = Signal()

# --- Account and email addresses ----------------------------------------------------------

# kwargs: user_id, update_data (never holds a password). Start of a profile update.
user_update_started = Signal()

# kwargs: user, update_data. Saved, before commit.
user_updated = Signal()

# kwargs: user_id, update_data, error_type, exception, user.
# error_type: "validation_error", "user_not_found", "repository_error",
# "unexpected_exception".
user_update_failed = Signal()

# kwargs: user_id. Start of account deletion.
user_deletion_started = Signal()

# kwargs: user_id, username. Deleted, before commit.
user_deleted = Signal()

# kwargs: user_id, username, error_type, exception.
# error_type: "incorrect_password", "user_not_found", "rate_limited" (too many password
# guesses; not in API.md's list, which predates the limit), "repository_error",
# "unexpected_exception".
user_deletion_failed = Signal()

# kwargs: user, email_address. A new address was added to an account.
email_added = Signal()

# kwargs: user, email_address. An address was removed.
email_removed = Signal()

# kwargs: user, from_email_address, to_email_address. The primary address changed.
email_changed = Signal()

# kwargs: user, email (str), action ("add", "remove", "primary", "send"), error_type,
# exception. An address action was refused.
# error_type: "validation_error", "not_found", "limit_reached", "not_verified",
# "undeliverable", "email_send_failed", "rate_limited", "repository_error",
# "unexpected_exception".
email_address_failed = Signal()

# kwargs: user, email_address, event_type. The email provider reported a bounce,
# complaint or rejection (django-anymail's tracking webhooks); the address is now marked
# undeliverable.
email_bounced = Signal()
