"""The audit dossier as a page, XLSX and PDF download (issue 9).

Access: whoever may VIEW the audit's site for its indicator year; anything else 404
(``dossier.dossier_audit_get``). URL names ``audits:audit_dossier``,
``audits:audit_dossier_xlsx`` and ``audits:audit_dossier_pdf`` (``qiportal.audit_urls``).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.views import View
from django.views.generic import TemplateView

from centres.permissions import Action, user_can
from qiportal.portal import PortalMixin

from .dossier import Chapter, dossier_audit_get, dossier_build, dossier_pdf, dossier_xlsx
from .forms import XLSX_CONTENT_TYPE


class DossierView(PortalMixin, TemplateView):
    """The dossier of one audit, one section per chapter, with the downloads."""

    template_name = "datasheets/dossier.html"
    nav_section = "audits"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        audit = dossier_audit_get(user=self.request.user, pk=kwargs["pk"])
        context.update(
            dossier=dossier_build(audit=audit),
            chapters=dict(Chapter.choices),
            can_manage=user_can(self.request.user, Action.MANAGE),
        )
        return context


class _DossierDownload(View):
    """A download of the dossier as an attachment; ``render`` turns a Dossier into bytes."""

    content_type = ""
    suffix = ""
    render = None  # a function Dossier -> bytes, set per subclass

    def get(self, request, pk: int):
        audit = dossier_audit_get(user=request.user, pk=pk)
        dossier = dossier_build(audit=audit)
        response = HttpResponse(self.render(dossier), content_type=self.content_type)
        response["Content-Disposition"] = f'attachment; filename="{dossier.filename_stem}.{self.suffix}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


class DossierXlsxView(_DossierDownload):
    """The dossier as XLSX, one sheet per chapter."""

    content_type = XLSX_CONTENT_TYPE
    suffix = "xlsx"
    render = staticmethod(dossier_xlsx)


class DossierPdfView(_DossierDownload):
    """The dossier as PDF, one page per chapter."""

    content_type = "application/pdf"
    suffix = "pdf"
    render = staticmethod(dossier_pdf)
