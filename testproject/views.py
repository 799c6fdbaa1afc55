"""The demo site's own pages, besides the app's."""

from typing import Any

from django.urls import reverse
from django.views.generic import TemplateView

from useraccounts.users import has_username


class SpaView(TemplateView):
    """``/spa/``: a single-page front end (plain JavaScript in ``static/spa/``) that
    knows the account only through the JSON API. The page itself is a static shell:
    it is told where the API lives and whether accounts have a username, nothing
    about who is logged in."""

    template_name = "spa/index.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["api_base"] = reverse("useraccounts_api:csrf").removesuffix("csrf")
        context["has_username"] = has_username()
        return context
