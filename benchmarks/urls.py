from django.conf import settings
from django.http import HttpResponse
from django.urls import include, path

app_urls = "useraccounts.urls" if settings.BENCH_APP == "useraccounts" else "allauth.urls"
urlpatterns = [
    path("", lambda request: HttpResponse("home"), name="home"),
    path("accounts/", include(app_urls)),
]
