"""Datasheet revisions and the values entered in them."""

from __future__ import annotations

from fractions import Fraction

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from centres.models import Site
from indicators import domain
from indicators.models import CatalogueVersion, IndicatorDefinition

from .choices import ProcessingStep, RevisionSource, RevisionStatus


class DatasheetRevision(models.Model):
    """One uploaded Datenblatt file: every upload is kept (SPEC §2, §3).

    ``site`` and ``indicator_year`` come from the Deckblatt once parsed (a web upload
    names the expected site up front in ``expected_site``). ``errors`` and ``warnings``
    are lists of ``{sheet, cell, code, message, message_de, message_en}``. ``is_current``
    marks the evaluated revision that national statistics use for its site and year.
    """

    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True, db_index=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="datasheet_revisions",
        verbose_name=_("uploaded by"),
    )
    source = models.CharField(
        max_length=10, choices=RevisionSource.choices, default=RevisionSource.WEB, verbose_name=_("source")
    )
    file = models.FileField(_("file"), upload_to="datasheets/", max_length=300)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64, db_index=True, verbose_name=_("checksum (SHA-256)"))
    expected_site = models.ForeignKey(
        Site, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("site chosen")
    )
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, null=True, blank=True, related_name="revisions", verbose_name=_("site")
    )
    indicator_year = models.PositiveIntegerField(_("indicator year"), null=True, blank=True)
    catalogue_version = models.ForeignKey(
        CatalogueVersion, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("catalogue version")
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=RevisionStatus.choices,
        default=RevisionStatus.PENDING,
        db_index=True,
    )
    errors = models.JSONField(default=list, blank=True, verbose_name=_("errors"))
    warnings = models.JSONField(default=list, blank=True, verbose_name=_("warnings"))
    cover = models.JSONField(default=dict, blank=True, verbose_name=_("cover sheet"))
    is_current = models.BooleanField(default=False, verbose_name=_("current"))
    validated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("validated at"))
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    evaluated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("evaluated at"))
    # Processing bookkeeping (issue 8): the database, not the broker, says what is left
    # to do. ``queued_at``: a task for the current step was last handed to the broker
    # (None: never, or the hand-over failed); ``started_at``: its latest attempt began;
    # ``attempts``: attempts begun for the current step (validation, then evaluation).
    queued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("queued at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))

    class Meta:
        ordering = ["-uploaded_at", "-pk"]
        indexes = [models.Index(fields=["site", "indicator_year", "is_current"])]
        verbose_name = _("datasheet revision")
        verbose_name_plural = _("datasheet revisions")

    def __str__(self) -> str:
        return f"#{self.pk} {self.original_name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        """No task will change this revision any more without a user's action."""
        return self.status in (RevisionStatus.FAILED, RevisionStatus.EVALUATED, RevisionStatus.DISCARDED) or (
            self.status == RevisionStatus.VALIDATED and self.confirmed_at is None
        )

    @property
    def processing_step(self) -> ProcessingStep | None:
        """The step a task still has to do (issue 8): validation while pending,
        evaluation once validated and confirmed; None otherwise. ``AWAITING[step]`` is
        the same rule as a query."""
        if self.status == RevisionStatus.PENDING:
            return ProcessingStep.VALIDATE
        if self.status == RevisionStatus.VALIDATED and self.confirmed_at is not None:
            return ProcessingStep.EVALUATE
        return None

    @property
    def awaiting_processing(self) -> bool:
        """A task still has to move this revision (issue 8: such revisions are
        recovered if their task is lost)."""
        return self.processing_step is not None

    @property
    def processing_retried(self) -> bool:
        """An earlier attempt at the current step died (worker or broker failure) and
        the step is tried again (issue 8: "Verarbeitung abgebrochen, wird erneut
        versucht")."""
        return self.awaiting_processing and self.attempts >= 2

    @property
    def processing_delayed(self) -> bool:
        """Stored, but no task could be handed to the broker yet (broker down); the
        recovery job hands it over once the broker is back (issue 8)."""
        return self.awaiting_processing and self.queued_at is None

    @property
    def awaiting_confirmation(self) -> bool:
        """Validated, would replace the current revision, and waits for the preview to
        be confirmed or discarded (issue 4: dry run, then confirm)."""
        return self.status == RevisionStatus.VALIDATED and self.confirmed_at is None


# ``DatasheetRevision.processing_step`` as a query: the revisions awaiting each step.
AWAITING = {
    ProcessingStep.VALIDATE: models.Q(status=RevisionStatus.PENDING),
    ProcessingStep.EVALUATE: models.Q(status=RevisionStatus.VALIDATED, confirmed_at__isnull=False),
}


class BaseDataValue(models.Model):
    """One Basisdaten cell of a revision: ``key`` from the layout, e.g.
    ``oral_cavity.operated.III`` or ``recurrences``; ``value`` a count (None = empty)."""

    revision = models.ForeignKey(
        DatasheetRevision, on_delete=models.CASCADE, related_name="base_data", verbose_name=_("revision")
    )
    key = models.CharField(max_length=60, verbose_name=_("key"))
    value = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("value"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["revision", "key"], name="uniq_base_value")]
        verbose_name = _("base data value")
        verbose_name_plural = _("base data values")

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class IndicatorValue(models.Model):
    """One Kennzahlen row of a revision: entered (or derived) numerator/denominator,
    the Begründung, and the evaluation result (``flags``; SPEC §4).

    ``denominator`` is None for count indicators; counts are integers.
    """

    revision = models.ForeignKey(
        DatasheetRevision, on_delete=models.CASCADE, related_name="indicator_values", verbose_name=_("revision")
    )
    definition = models.ForeignKey(
        IndicatorDefinition, on_delete=models.PROTECT, verbose_name=_("indicator definition")
    )
    numerator = models.PositiveIntegerField(_("numerator"))
    denominator = models.PositiveIntegerField(_("denominator"), null=True, blank=True)
    justification = models.TextField(_("justification"), blank=True)
    flags = models.JSONField(default=list, blank=True, verbose_name=_("flags"))
    evaluated = models.BooleanField(default=False, verbose_name=_("evaluated"))

    class Meta:
        ordering = ["definition__position"]
        constraints = [models.UniqueConstraint(fields=["revision", "definition"], name="uniq_indicator_value")]
        verbose_name = _("indicator value")
        verbose_name_plural = _("indicator values")

    def __str__(self) -> str:
        return f"KeZa {self.definition.code}: {self.numerator}/{self.denominator}"

    @property
    def rate(self) -> Fraction | None:
        """numerator / denominator as a Fraction 0..1; None for counts or denominator 0."""
        return domain.rate(self.numerator, self.denominator)
