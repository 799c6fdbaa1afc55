from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from testproject.views import SpaView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("accounts/", include("useraccounts.urls")),
    path("api/accounts/", include("useraccounts.api.urls")),
    # A single-page front end that uses only the JSON API above.
    path("spa/", SpaView.as_view(), name="spa"),
    path("admin/", admin.site.urls),
    path("anymail/", include("anymail.urls")),
]

# An outage outside the app's own views (Django's session middleware saving a session,
# say) gets the app's 503 page instead of a 500.
handler500 = "useraccounts.error_views.server_error"
