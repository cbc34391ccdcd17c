"""URLs of the centres app (namespace ``centres``)."""

from django.urls import path

from . import views

app_name = "centres"

urlpatterns = [
    path("", views.SiteListView.as_view(), name="site_list"),
    path("<int:pk>/", views.SiteDetailView.as_view(), name="site_detail"),
    path("<int:pk>/revisions/", views.SiteRevisionsView.as_view(), name="site_revisions"),
]
