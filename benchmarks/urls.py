from django.conf import settings
from django.http import HttpResponse
from django.urls import include, path

if settings.BENCH_APP == "useraccounts":
    app_urls, api_path, api_urls = "useraccounts.urls", "accounts/api/", "useraccounts.api.urls"
else:  # allauth's headless API, its own prefix as its docs give it
    app_urls, api_path, api_urls = "allauth.urls", "_allauth/", "allauth.headless.urls"
urlpatterns = [
    path("", lambda request: HttpResponse("home"), name="home"),
    path("accounts/", include(app_urls)),
    path(api_path, include(api_urls)),
]
