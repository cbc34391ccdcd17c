"""Views of the answer to an Abweichung (issue 9, SPEC §4): the centre's statement with
evidence files, the auditor sending it back, and the download of an evidence file.

The steps reuse ``DeviationStepView`` of ``indicators.views``: 404 out of scope, 403
for a role that may view the deviation but not take the step, and a refusal by state or
content answers 200 with the record page and a located form error, never a 500. The
record page shows these steps through ``{% deviation_answer %}``
(``indicators.templatetags.answer_tags``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from centres.permissions import Action
from qiportal.exceptions import ApplicationError

from .evidence import deviation_answer, evidence_check_size, evidence_get, evidence_open
from .forms import AnswerForm, SendBackForm
from .services import deviation_send_back
from .views import DeviationStepView


class DeviationAnswerView(DeviationStepView):
    """POST (multipart) of the centre's answer: statement and evidence files, all or
    nothing (``indicators.evidence.deviation_answer``). A refused file is named in the
    error of the file field."""

    required_action = Action.JUSTIFY
    form_class = AnswerForm
    form_name = "answer_form"
    success_message = gettext_lazy("Your answer was sent to the auditor.")

    def post(self, request, *args, **kwargs):
        self.check_role()
        form = AnswerForm(request.POST, request.FILES)
        if form.is_valid():
            uploads = form.cleaned_data["files"]
            try:
                # A file over the limit is refused by its size before it is read.
                for upload in uploads:
                    evidence_check_size(filename=upload.name, size=upload.size)
                files = [(upload.name, upload.read(settings.QIPORTAL_EVIDENCE_MAX_BYTES + 1)) for upload in uploads]
                deviation_answer(
                    deviation=self.deviation, text=form.cleaned_data["text"], files=files, acting_user=request.user
                )
            except ApplicationError as exc:
                form.add_error("files" if "filename" in exc.extra else None, exc.message)
                messages.error(request, exc.message)
            else:
                messages.success(request, self.success_message)
                return redirect("indicators:deviation_detail", pk=self.deviation.pk)
        else:
            messages.error(request, _("The answer was not saved. Please see below."))
        self.deviation.refresh_from_db()
        return self.render_to_response(self.get_context_data(answer_form=form))


class DeviationSendBackView(DeviationStepView):
    """POST: the auditor does not accept the centre's answer yet
    (``indicators.services.deviation_send_back``)."""

    required_action = Action.DECIDE
    form_class = SendBackForm
    form_name = "send_back_form"
    success_message = gettext_lazy("The answer was sent back to the centre.")

    def perform(self, data: dict) -> None:
        deviation_send_back(deviation=self.deviation, comment=data["comment"], acting_user=self.request.user)


class EvidenceDownloadView(View):
    """GET one evidence file for a user who may view its deviation (404 otherwise, and
    404 when the stored file is missing). Always an attachment with its checked content
    type, ``nosniff`` and a sandboxing CSP, so that no browser renders it in the
    portal's origin."""

    http_method_names = ["get", "head"]

    def get(self, request, pk: int):
        evidence = evidence_get(user=request.user, pk=pk)
        try:
            handle = evidence_open(evidence)
        except (FileNotFoundError, ValueError) as exc:
            raise Http404(_("The stored file is missing.")) from exc
        response = FileResponse(
            handle, as_attachment=True, filename=evidence.filename, content_type=evidence.content_type
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response
