"""URLs of the indicators app (namespace ``indicators``)."""

from django.urls import path

from . import answer_views, views

app_name = "indicators"

urlpatterns = [
    path("deviations/", views.DeviationListView.as_view(), name="deviation_list"),
    path("deviations/accept/", views.DeviationBulkAcceptView.as_view(), name="deviation_bulk_accept"),
    path("deviations/<int:pk>/", views.DeviationDetailView.as_view(), name="deviation_detail"),
    path("deviations/<int:pk>/justify/", views.DeviationJustifyView.as_view(), name="deviation_justify"),
    path("deviations/<int:pk>/decide/", views.DeviationDecideView.as_view(), name="deviation_decide"),
    path("deviations/<int:pk>/resolve/", views.DeviationResolveView.as_view(), name="deviation_resolve"),
    path("deviations/<int:pk>/answer/", answer_views.DeviationAnswerView.as_view(), name="deviation_answer"),
    path("deviations/<int:pk>/send-back/", answer_views.DeviationSendBackView.as_view(), name="deviation_send_back"),
    path("deviations/evidence/<int:pk>/", answer_views.EvidenceDownloadView.as_view(), name="evidence_download"),
    path("national/", views.NationalView.as_view(), name="national"),
    path("national/<int:year>.json", views.NationalJSONView.as_view(), name="national_json"),
    path("national/<int:year>/<str:code>/", views.NationalIndicatorView.as_view(), name="national_indicator"),
]
