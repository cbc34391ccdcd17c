"""Year-versioned indicator definitions, current evaluations and deviation records."""

from __future__ import annotations

from fractions import Fraction

from django.conf import settings
from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from centres.models import Site

from . import domain
from .choices import Certainty, DeviationState, Flag, Kind, ReasonCode


class CatalogueVersion(models.Model):
    """An indicator catalogue version (Katalogversion): ``C2.1``, ``KJ2022``, ``KJ2024``.

    ``indicator_year`` is the first Kennzahlenjahr it is in force for; ``layout`` is the
    Datenblatt layout description read by ``datasheets.layout`` (SPEC §1).
    """

    id = models.CharField(_("catalogue version"), max_length=20, primary_key=True)
    indicator_year = models.PositiveIntegerField(_("indicator year"))
    audit_year = models.PositiveIntegerField(_("audit year"))
    layout_revision = models.PositiveIntegerField(_("layout revision"), default=1)
    numbering = models.CharField(max_length=20, blank=True, verbose_name=_("numbering"))
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    layout = models.JSONField(default=dict, verbose_name=_("layout"))

    class Meta:
        ordering = ["indicator_year"]
        verbose_name = _("catalogue version")
        verbose_name_plural = _("catalogue versions")

    def __str__(self) -> str:
        return self.id

    @property
    def template_id(self) -> str:
        """Value of the workbook name ``QIP_TEMPLATE`` (SPEC §2), e.g. ``KHT/KJ2022/1``."""
        return f"KHT/{self.id}/{self.layout_revision}"


class IndicatorYear(models.Model):
    """A Kennzahlenjahr and the catalogue version in force for it."""

    year = models.PositiveIntegerField(_("indicator year"), primary_key=True)
    catalogue_version = models.ForeignKey(
        CatalogueVersion, on_delete=models.PROTECT, related_name="years", verbose_name=_("catalogue version")
    )

    class Meta:
        ordering = ["year"]
        verbose_name = _("indicator year")
        verbose_name_plural = _("indicator years")

    def __str__(self) -> str:
        return str(self.year)

    @property
    def audit_year(self) -> int:
        """Audit year = indicator year + 1 (GLOSSARY)."""
        return self.year + 1


class IndicatorDefinition(models.Model):
    """One indicator (KeZa) in one catalogue version.

    ``numerator_source`` / ``denominator_source``: None when the centre enters the value,
    else a list of Basisdaten cell keys whose sum derives it (``datasheets.layout``).
    Target and corridor values are fractions 0..1 for rates, numbers for counts.
    ``counts_events``: the numerator counts events, so it may exceed the denominator
    (KeZa 5, study inclusions). ``series`` is the trend-series key: it stays the same
    across versions while the definition is unchanged (SPEC §5).
    """

    version = models.ForeignKey(
        CatalogueVersion, on_delete=models.CASCADE, related_name="definitions", verbose_name=_("catalogue version")
    )
    code = models.CharField(_("KeZa"), max_length=10)
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))
    title_de = models.CharField(max_length=300, verbose_name=_("title (German)"))
    title_en = models.CharField(max_length=300, verbose_name=_("title (English)"))
    kind = models.CharField(max_length=5, choices=Kind.choices, verbose_name=_("kind"))
    entity = models.CharField(max_length=100, default="all", verbose_name=_("tumour entity"))
    numerator_de = models.TextField(blank=True, verbose_name=_("numerator (German)"))
    numerator_en = models.TextField(blank=True, verbose_name=_("numerator (English)"))
    denominator_de = models.TextField(blank=True, verbose_name=_("denominator (German)"))
    denominator_en = models.TextField(blank=True, verbose_name=_("denominator (English)"))
    numerator_source = models.JSONField(null=True, blank=True, verbose_name=_("numerator from Basisdaten"))
    denominator_source = models.JSONField(null=True, blank=True, verbose_name=_("denominator from Basisdaten"))
    target_op = models.CharField(max_length=2, blank=True, verbose_name=_("target operator"))
    target_value = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True, verbose_name=_("target value")
    )
    corridor_lower = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True, verbose_name=_("corridor lower bound")
    )
    corridor_upper = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True, verbose_name=_("corridor upper bound")
    )
    guideline_qi = models.BooleanField(null=True, verbose_name=_("guideline quality indicator"))
    counts_events = models.BooleanField(default=False, verbose_name=_("counts events"))
    eb_ref = models.CharField(max_length=20, blank=True, verbose_name=_("Erhebungsbogen reference"))
    sources = models.JSONField(default=list, blank=True, verbose_name=_("sources"))
    certainty = models.CharField(max_length=12, choices=Certainty.choices, verbose_name=_("certainty"))
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    predecessor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="successors",
        verbose_name=_("predecessor"),
    )
    series = models.CharField(max_length=40, verbose_name=_("series"))

    class Meta:
        ordering = ["version", "position"]
        constraints = [models.UniqueConstraint(fields=["version", "code"], name="uniq_definition_code")]
        verbose_name = _("indicator definition")
        verbose_name_plural = _("indicator definitions")

    def __str__(self) -> str:
        return f"{self.version_id} KeZa {self.code}"

    @property
    def title(self) -> str:
        """Title in the active language (German default)."""
        lang = (translation.get_language() or "de")[:2]
        return self.title_en if lang == "en" and self.title_en else self.title_de

    @property
    def is_count(self) -> bool:
        return self.kind == Kind.COUNT

    def rule(self) -> domain.Rule:
        """The target/corridor rule for ``indicators.domain.evaluate``."""

        def frac(value):
            return None if value is None else Fraction(value)

        return domain.Rule(
            kind=domain.Kind(self.kind),
            target_op=self.target_op or None,
            target_value=frac(self.target_value),
            corridor_lower=frac(self.corridor_lower),
            corridor_upper=frac(self.corridor_upper),
        )

    def target_display(self) -> str:
        """Target as printed in the sheet, e.g. ``≥ 95 %`` or ``≥ 75``; "" if none."""
        if not self.target_op or self.target_value is None:
            return ""
        return f"{_op_symbol(self.target_op)} {_format_bound(self.target_value, self.is_count)}"

    def corridor_display(self) -> str:
        """The plausible range, e.g. ``≥ 70 %``, ``≤ 80 %`` or ``0,01 % – 80 %``; a value
        outside it is 'Plausibilität unklar' (the sheet prints the complement, '< 70 %')."""
        lower, upper = self.corridor_lower, self.corridor_upper
        if lower is not None and upper is not None:
            return f"{_format_bound(lower, self.is_count)} – {_format_bound(upper, self.is_count)}"
        if lower is not None:
            return f"≥ {_format_bound(lower, self.is_count)}"
        if upper is not None:
            return f"≤ {_format_bound(upper, self.is_count)}"
        return ""


def _op_symbol(op: str) -> str:
    return {">=": "≥", "<=": "≤", ">": ">", "<": "<"}[op]


def _format_bound(value, is_count: bool) -> str:
    if is_count:
        return f"{value.normalize():f}"
    pct = (value * 100).normalize()
    return f"{pct:f}".replace(".", ",") + " %"


class Evaluation(models.Model):
    """The current evaluated value of one indicator for a site and indicator year.

    Written by ``indicators.services.evaluation_record`` from the current Datenblatt
    revision (``source_revision_id``); the basis of national statistics (SPEC §5).
    ``denominator`` is None for count indicators; ``flags`` a list of Flag values.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="evaluations", verbose_name=_("site"))
    indicator_year = models.PositiveIntegerField(_("indicator year"), db_index=True)
    definition = models.ForeignKey(
        IndicatorDefinition,
        on_delete=models.PROTECT,
        related_name="evaluations",
        verbose_name=_("indicator definition"),
    )
    numerator = models.PositiveIntegerField(_("numerator"))
    denominator = models.PositiveIntegerField(_("denominator"), null=True, blank=True)
    flags = models.JSONField(default=list, blank=True, verbose_name=_("flags"))
    source_revision_id = models.PositiveBigIntegerField(null=True, blank=True, verbose_name=_("source revision"))
    evaluated_at = models.DateTimeField(auto_now=True, verbose_name=_("evaluated at"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "indicator_year", "definition"], name="uniq_evaluation")]
        verbose_name = _("evaluation")
        verbose_name_plural = _("evaluations")

    def __str__(self) -> str:
        return f"{self.site_id} {self.indicator_year} {self.definition}: {self.numerator}/{self.denominator}"

    @property
    def rate(self) -> Fraction | None:
        return domain.rate(self.numerator, self.denominator)


class Deviation(models.Model):
    """A lasting record of one flag: key (site, indicator year, KeZa code, flag), SPEC §4.

    ``is_active`` is False once a corrected re-upload cleared the flag (``closed_at``
    set, history kept); it reopens if the flag comes back. Review state: open ->
    justified -> accepted | note | nonconformity (with ``due_date``) -> resolved.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="deviations", verbose_name=_("site"))
    indicator_year = models.PositiveIntegerField(_("indicator year"), db_index=True)
    code = models.CharField(_("KeZa"), max_length=10)
    flag = models.CharField(_("flag"), max_length=20, choices=Flag.choices)
    definition = models.ForeignKey(
        IndicatorDefinition, on_delete=models.PROTECT, related_name="deviations", verbose_name=_("indicator definition")
    )
    state = models.CharField(_("state"), max_length=20, choices=DeviationState.choices, default=DeviationState.OPEN)
    is_active = models.BooleanField(_("active"), default=True)
    numerator = models.PositiveIntegerField(_("numerator"))
    denominator = models.PositiveIntegerField(_("denominator"), null=True, blank=True)
    justification = models.TextField(_("justification"), blank=True, max_length=2000)
    reason_code = models.CharField(_("reason"), max_length=30, choices=ReasonCode.choices, blank=True)
    justified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("justified by"),
    )
    justified_at = models.DateTimeField(null=True, blank=True, verbose_name=_("justified at"))
    decision_comment = models.TextField(_("comment"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    due_date = models.DateField(_("due date"), null=True, blank=True)
    corrective_action = models.TextField(_("corrective action"), blank=True, max_length=2000)
    response = models.TextField(_("statement of the centre"), blank=True, max_length=4000)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("answered by"),
    )
    responded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("answered at"))
    consecutive_years = models.PositiveSmallIntegerField(
        _("years in a row"),
        default=1,
        help_text=_("1 = first year; n = flagged for the same indicator series in the n−1 years before, too."),
    )
    opened_at = models.DateTimeField(auto_now_add=True, verbose_name=_("opened at"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))
    source_revision_id = models.PositiveBigIntegerField(null=True, blank=True, verbose_name=_("source revision"))

    class Meta:
        ordering = ["site", "indicator_year", "code", "flag"]
        constraints = [
            models.UniqueConstraint(fields=["site", "indicator_year", "code", "flag"], name="uniq_deviation")
        ]
        verbose_name = _("deviation")
        verbose_name_plural = _("deviations")

    def __str__(self) -> str:
        return f"{self.site.registration_number} {self.indicator_year} KeZa {self.code} {self.flag}"

    @property
    def rate(self) -> Fraction | None:
        return domain.rate(self.numerator, self.denominator)

    def is_overdue(self, day=None) -> bool:
        """True for an Abweichung not yet resolved whose due date lies before ``day``
        (default today)."""
        day = day or timezone.localdate()
        return self.state == DeviationState.NONCONFORMITY and self.due_date is not None and self.due_date < day

    @property
    def overdue(self) -> bool:
        """``is_overdue()`` today, for templates."""
        return self.is_overdue()

    @property
    def awaiting_review(self) -> bool:
        """An Abweichung the centre has answered; the auditor resolves or sends it back."""
        return self.state == DeviationState.NONCONFORMITY and self.responded_at is not None


class Evidence(models.Model):
    """A file the centre gives to answer an Abweichung (PDF, PNG or JPEG; type checked by
    content). Stored by SHA-256 like data sheets; served as an attachment only."""

    deviation = models.ForeignKey(
        Deviation, on_delete=models.CASCADE, related_name="evidence", verbose_name=_("deviation")
    )
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=50)
    size = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("uploaded at"))

    class Meta:
        ordering = ["uploaded_at", "pk"]
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256[:12]})"
