"""URLs of the centres app (namespace ``centres``).

``qiportal.urls`` adds ``site_detail`` (``<pk>/``) and ``site_revisions``
(``<pk>/revisions/``) from ``datasheets.site_views`` to this namespace: those pages
show data sheets and deviations, which ``centres`` must not import (STYLE §4).
"""

from django.urls import path

from . import views

app_name = "centres"

urlpatterns = [
    path("", views.SiteListView.as_view(), name="site_list"),
]
