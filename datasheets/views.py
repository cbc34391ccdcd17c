"""Views of the datasheets app: template download, upload, revision list and detail
(the site page is in ``datasheets.site_views``).

No business logic: reads go through ``datasheets.selectors`` (404 out of scope), writes
through ``datasheets.services``; an ``ApplicationError`` becomes a message, never a 500.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import translation
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from centres.permissions import Action, user_can
from centres.selectors import site_get, site_list
from qiportal.exceptions import ApplicationError
from qiportal.portal import PortalMixin

from .choices import RevisionStatus
from .forms import XLSX_CONTENT_TYPE, DatasheetUploadForm, RevisionFilterSet, TemplateDownloadForm
from .quarantine import RefusalReason, revision_file_refusal
from .reports import problems_with_subjects, revision_diff, revision_layout
from .selectors import revision_get, revision_list, revision_values
from .services import datasheet_template_build, datasheet_upload, revision_confirm, revision_discard, revision_report
from .tables import IndicatorValueTable, RevisionTable, flag_badges, status_badge


def revisions_fingerprint(revisions) -> str:
    """Short hash of (pk, status) of the revisions shown; a poll answers 204 (htmx
    leaves the page alone) while it is unchanged."""
    raw = ",".join(f"{r.pk}:{r.status}:{r.attempts}:{r.queued_at is not None}" for r in revisions)
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


class TemplateDownloadView(View):
    """GET ?indicator_year=YYYY: the empty Datenblatt of a site (users who may SUBMIT)."""

    def get(self, request, site_pk: int):
        site = site_get(user=request.user, pk=site_pk)
        if not user_can(request.user, Action.SUBMIT, site):
            raise PermissionDenied
        form = TemplateDownloadForm(request.GET)
        if not form.is_valid():
            messages.error(request, _("Please choose an indicator year."))
            return redirect("centres:site_detail", pk=site.pk)
        try:
            filename, content = datasheet_template_build(
                site=site,
                indicator_year=form.cleaned_data["indicator_year"],
                acting_user=request.user,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message, extra_tags=exc.code)  # the stable code: data-code
            return redirect("centres:site_detail", pk=site.pk)
        response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class UploadView(PortalMixin, FormView):
    """Upload one Datenblatt for a site; redirects to the new revision's page.

    GET shows the form (site preselected by ``?site=``); a refused or invalid upload
    answers 200 with the form and its messages.
    """

    template_name = "datasheets/upload.html"
    form_class = DatasheetUploadForm
    nav_section = "datasheets"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not self._sites().exists():
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def _sites(self):
        return site_list(user=self.request.user, action=Action.SUBMIT)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["user"] = self.request.user
        return kwargs

    def get_initial(self):
        initial = super().get_initial()
        if self.request.GET.get("site", "").isdigit():
            initial["site"] = int(self.request.GET["site"])
        return initial

    def form_valid(self, form):
        upload = form.cleaned_data["file"]
        try:
            revision = datasheet_upload(
                content=upload.read(),
                filename=upload.name,
                acting_user=self.request.user,
                expected_site=form.cleaned_data["site"],
                source="web",
            )
        except ApplicationError as exc:
            form.add_error("file", exc.message)
            return self.form_invalid(form)
        duplicate = getattr(revision, "duplicate", False)
        requeued = getattr(revision, "requeued", False)
        revision.refresh_from_db()
        if duplicate and requeued:
            messages.info(
                self.request,
                _(
                    "This file was uploaded before (data sheet #%(pk)d) and is still being processed; "
                    "its processing was started again."
                )
                % {"pk": revision.pk},
            )
        elif duplicate:
            messages.info(
                self.request,
                _("This file was uploaded before (data sheet #%(pk)d); no new revision was created.")
                % {"pk": revision.pk},
            )
        elif revision.processing_delayed:
            messages.warning(
                self.request,
                _(
                    "The data sheet was received and stored. Its processing is delayed (the processing "
                    "service cannot be reached) and will start by itself; you need not upload it again."
                ),
            )
        elif revision.status == RevisionStatus.FAILED:
            pass  # the page shows the rejection itself; no green message beside it (issue 9)
        elif revision.awaiting_confirmation:
            messages.info(
                self.request, _("The data sheet was checked. Please look at the preview and confirm or discard it.")
            )
        elif revision.status == RevisionStatus.EVALUATED:
            messages.success(self.request, _("The data sheet was uploaded and evaluated."))
        else:
            messages.success(self.request, _("The data sheet was uploaded and is being checked."))
        return redirect("datasheets:revision_detail", pk=revision.pk)

    def form_invalid(self, form):
        messages.error(self.request, _("The data sheet was not uploaded. Please see below."))
        return super().form_invalid(form)


class RevisionListView(PortalMixin, SingleTableMixin, FilterView):
    """All revisions the user may see; filter by status, indicator year, site."""

    template_name = "datasheets/revision_list.html"
    table_class = RevisionTable
    filterset_class = RevisionFilterSet
    paginate_by = 50
    nav_section = "datasheets"

    def get_queryset(self):
        return revision_list(user=self.request.user).select_related("expected_site")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_upload"] = site_list(user=self.request.user, action=Action.SUBMIT).exists()
        return context


class RevisionDetailView(PortalMixin, TemplateView):
    """One revision: status (polled every 2 s until finished), located errors,
    warnings, and the evaluated values per KeZa."""

    template_name = "datasheets/revision_detail.html"
    partial_template_name = "datasheets/_revision_body.html"
    nav_section = "datasheets"

    def get(self, request, *args, **kwargs):
        self.revision = revision_get(user=request.user, pk=kwargs["pk"])
        if request.htmx and request.GET.get("v") == revisions_fingerprint([self.revision]):
            return HttpResponse(status=204)  # unchanged: htmx keeps polling, no swap
        return super().get(request, *args, **kwargs)

    def get_template_names(self):
        if self.request.htmx:
            return [self.partial_template_name]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        revision = self.revision
        values = list(revision_values(revision=revision))
        layout = revision_layout(revision)  # names each error's KeZa / row (issue 9)
        context.update(
            revision=revision,
            status_badge=status_badge(revision.status, awaiting_confirmation=revision.awaiting_confirmation),
            polling=not revision.is_finished,
            max_attempts=settings.QIPORTAL_PROCESSING_MAX_ATTEMPTS,
            fingerprint=revisions_fingerprint([revision]),
            errors=[_located(e) for e in problems_with_subjects(revision.errors, layout)],
            warnings=[_located(e) for e in problems_with_subjects(revision.warnings, layout)],
            values_table=IndicatorValueTable(values) if values else None,
            is_failed=revision.status == RevisionStatus.FAILED,
            is_evaluated=revision.status == RevisionStatus.EVALUATED,
            file_refusal=revision_file_refusal(revision),
            n_flagged=sum(1 for v in values if v.flags),
            oob=bool(self.request.htmx),
        )
        if revision.awaiting_confirmation:
            titles = {v.definition.code: v.definition.title for v in values}
            diff = revision_diff(revision)
            context.update(
                preview=[
                    {
                        "row": r,
                        "title": titles.get(r.code, ""),
                        "added": flag_badges(list(r.flags_added)) if r.flags_added else "–",
                        "removed": flag_badges(list(r.flags_removed)) if r.flags_removed else "–",
                    }
                    for r in diff
                    if r.changed
                ],
                preview_unchanged=sum(1 for r in diff if not r.changed),
                may_confirm=user_can(self.request.user, Action.SUBMIT, revision.site),
                values_table=None,
            )
        return context


class RevisionDecisionView(View):
    """POST: confirm or discard the preview of a revision that would replace the
    current one (issue 4); 404 out of scope, refusals become messages."""

    action = "confirm"

    def post(self, request, pk: int):
        revision = revision_get(user=request.user, pk=pk)
        service = revision_confirm if self.action == "confirm" else revision_discard
        try:
            service(revision=revision, acting_user=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message, extra_tags=exc.code)  # the stable code: data-code
        else:
            if self.action == "confirm":
                messages.success(
                    request, _("Confirmed: the data sheet is being evaluated and replaces the current one.")
                )
            else:
                messages.info(request, _("Discarded: the current data sheet stays in force."))
        return redirect("datasheets:revision_detail", pk=revision.pk)


def _located(problem: dict) -> dict:
    """A stored error/warning with its message in the active language, its place
    as ``Sheet!Cell`` (or the sheet alone) and what the cell is (``subject``, issue 9)."""
    lang = (translation.get_language() or "de")[:2]
    message = problem.get(f"message_{lang}") or problem.get("message", "")
    sheet, cell = problem.get("sheet") or "", problem.get("cell") or ""
    place = f"{sheet}!{cell}" if sheet and cell else sheet or cell
    subject = problem.get(f"subject_{lang}") or problem.get("subject")
    return {"place": place, "subject": subject, "code": problem.get("code", ""), "message": message}


class RevisionFileView(PortalMixin, TemplateView):
    """The stored file of a revision, as an attachment, for everyone who may see the
    revision (404 out of scope, 404 when the file is missing).

    A file refused as unsafe, or not yet checked, is never served back as it was
    (issue 8, ``quarantine.revision_file_refusal``): the answer is a page with HTTP 403
    naming its SHA-256 and the reasons; the file stays on the server for the record.
    """

    template_name = "datasheets/revision_file_refused.html"
    nav_section = "datasheets"

    def get(self, request, pk: int):
        revision = revision_get(user=request.user, pk=pk)
        refusal = revision_file_refusal(revision)
        if refusal is not None:
            context = self.get_context_data(
                revision=revision,
                refusal=refusal,
                unchecked=refusal.reason == RefusalReason.UNCHECKED,
                problems=[_located(e) for e in refusal.problems],
            )
            return self.render_to_response(context, status=403)
        try:
            handle = revision.file.open("rb")
        except (FileNotFoundError, ValueError) as exc:
            raise Http404(_("The stored file is missing.")) from exc
        return FileResponse(
            handle,
            as_attachment=True,
            filename=revision.original_name,
            content_type=XLSX_CONTENT_TYPE,
        )


class ReportJSONEncoder(DjangoJSONEncoder):
    """Fractions as floats; everything else as DjangoJSONEncoder."""

    def default(self, o):
        if isinstance(o, Fraction):
            return float(o)
        return super().default(o)


class RevisionReportView(View):
    """``datasheets.services.revision_report`` as JSON (404 out of scope)."""

    def get(self, request, pk: int):
        revision = revision_get(user=request.user, pk=pk)
        return JsonResponse(
            revision_report(revision),
            encoder=ReportJSONEncoder,
            json_dumps_params={"ensure_ascii": False, "indent": 2},
        )
