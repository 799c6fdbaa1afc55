from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("accounts/", include("useraccounts.urls")),
    path("admin/", admin.site.urls),
    path("anymail/", include("anymail.urls")),
]
