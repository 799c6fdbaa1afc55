"""Include under any prefix: ``path("api/accounts/", include("useraccounts.api.urls"))``.

Paths have no trailing slash, as JSON clients expect; names are in the
``useraccounts_api`` namespace. ``openapi.json`` serves the OpenAPI document that
describes every other path here.
"""

from django.urls import path

from . import account_views, views

app_name = "useraccounts_api"

urlpatterns = [
    path("csrf", views.CsrfView.as_view(), name="csrf"),
    path("session", views.SessionView.as_view(), name="session"),
    path("signup", views.SignupView.as_view(), name="signup"),
    path("login", views.LoginView.as_view(), name="login"),
    path("logout", views.LogoutView.as_view(), name="logout"),
    path("email/confirm", views.ConfirmEmailView.as_view(), name="confirm_email"),
    path("email/confirm/check", views.ConfirmEmailCheckView.as_view(), name="confirm_email_check"),
    path("email/resend", views.ResendConfirmationView.as_view(), name="resend_confirmation"),
    path("password/reset", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/confirm",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/check", views.PasswordResetCheckView.as_view(), name="password_reset_check"
    ),
    path("password/change", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile", account_views.ProfileView.as_view(), name="profile"),
    path("account/delete", account_views.AccountDeleteView.as_view(), name="account_delete"),
    path("email", account_views.EmailView.as_view(), name="email"),
    path("email/remove", account_views.EmailRemoveView.as_view(), name="email_remove"),
    path("email/primary", account_views.EmailPrimaryView.as_view(), name="email_primary"),
    path("email/send", account_views.EmailSendView.as_view(), name="email_send"),
    path("openapi.json", views.OpenApiView.as_view(), name="openapi"),
]
