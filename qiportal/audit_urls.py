"""URLs of the audit pages (namespace ``audits``, issue 9).

The pages come from three apps along the import direction (STYLE §4): the list with
its deviation counts from ``indicators``, the office's assignment page from
``centres``, the dossier (which reads data sheets) from ``datasheets``.
"""

from django.urls import path

from centres import views as centres_views
from datasheets import dossier_views
from indicators import audit_views

app_name = "audits"

urlpatterns = [
    path("", audit_views.AuditListView.as_view(), name="audit_list"),
    path("<int:pk>/assign/", centres_views.AuditAssignView.as_view(), name="audit_assign"),
    path("<int:pk>/dossier/", dossier_views.DossierView.as_view(), name="audit_dossier"),
    path("<int:pk>/dossier.xlsx", dossier_views.DossierXlsxView.as_view(), name="audit_dossier_xlsx"),
    path("<int:pk>/dossier.pdf", dossier_views.DossierPdfView.as_view(), name="audit_dossier_pdf"),
]
