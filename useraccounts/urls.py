"""Include under any prefix: ``path("accounts/", include("useraccounts.urls"))``."""

from django.urls import path

from . import account_views, confirmation_views, password_views, views

app_name = "useraccounts"

urlpatterns = [
    path("signup/", views.SignupView.as_view(), name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path(
        "confirm-email/sent/",
        confirmation_views.ConfirmationSentView.as_view(),
        name="confirmation_sent",
    ),
    path(
        "confirm-email/resend/",
        confirmation_views.ResendConfirmationView.as_view(),
        name="resend_confirmation",
    ),
    path(
        "confirm-email/<str:token>/",
        confirmation_views.ConfirmEmailView.as_view(),
        name="confirm_email",
    ),
    path("password/reset/", password_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/done/",
        password_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/complete/",
        password_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        password_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/change/", password_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/change/done/",
        password_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("account/", account_views.AccountView.as_view(), name="account"),
    path("account/delete/", account_views.AccountDeleteView.as_view(), name="account_delete"),
    path("email/", account_views.EmailView.as_view(), name="email"),
]
