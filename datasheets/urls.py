"""URLs of the datasheets app (namespace ``datasheets``)."""

from django.urls import path

from . import views

app_name = "datasheets"

urlpatterns = [
    path("", views.RevisionListView.as_view(), name="revision_list"),
    path("upload/", views.UploadView.as_view(), name="upload"),
    path("template/<int:site_pk>/", views.TemplateDownloadView.as_view(), name="template_download"),
    path("<int:pk>/", views.RevisionDetailView.as_view(), name="revision_detail"),
    path("<int:pk>/file/", views.RevisionFileView.as_view(), name="revision_file"),
    path("<int:pk>/confirm/", views.RevisionDecisionView.as_view(action="confirm"), name="revision_confirm"),
    path("<int:pk>/discard/", views.RevisionDecisionView.as_view(action="discard"), name="revision_discard"),
    path("<int:pk>/report.json", views.RevisionReportView.as_view(), name="revision_report"),
]
