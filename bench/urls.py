"""URLconf of bench/settings.py: Encore's URLs plus the baselines under ``/bench/``."""

from django.urls import include, path

from voting.urls import handler404
from voting.urls import urlpatterns as encore_urlpatterns

urlpatterns = [path("bench/", include("bench.baselines")), *encore_urlpatterns]

__all__ = ["handler404", "urlpatterns"]
