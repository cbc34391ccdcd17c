"""Centres, sites, memberships, certificates, audits and the event log (GLOSSARY.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """Roles of a membership; read only by ``centres.permissions``."""

    COORDINATOR = "coordinator", _("Centre coordinator")
    AUDITOR = "auditor", _("Auditor (Fachexperte)")
    COMMISSION = "commission", _("Commission member")
    OFFICE = "office", _("Certification office")


class Centre(models.Model):
    """A certified head and neck tumour centre (Zentrum); has one or more sites."""

    name = models.CharField(_("name"), max_length=200)
    city = models.CharField(_("city"), max_length=100, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("centre")
        verbose_name_plural = _("centres")

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    """A site (Standort) of a centre: submits one Datenblatt per indicator year.

    ``registration_number`` is OnkoZert's Reg.-Nr., stored as text (format not public).
    ``standalone`` marks a KHT site without an Onkologisches Zentrum at the site.
    """

    centre = models.ForeignKey(Centre, on_delete=models.PROTECT, related_name="sites", verbose_name=_("centre"))
    registration_number = models.CharField(_("Reg.-Nr."), max_length=40, unique=True)
    name = models.CharField(_("site"), max_length=200)
    city = models.CharField(_("city"), max_length=100)
    state = models.CharField(_("federal state / country"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, default="DE")
    standalone = models.BooleanField(_("standalone centre"), default=False)
    initial_certification = models.DateField(_("initial certification"), null=True, blank=True)
    documentation_system = models.CharField(_("documentation system"), max_length=100, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=200, blank=True)
    contact_email = models.EmailField(_("e-mail"), blank=True)

    class Meta:
        ordering = ["registration_number"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return f"{self.registration_number} {self.name}"

    @property
    def abroad(self) -> bool:
        """True for sites outside Germany."""
        return self.country != "DE"


class Membership(models.Model):
    """A user's role, for one site or (``site`` empty) for all sites.

    Coordinators and auditors are bound to sites; commission members and office staff
    usually hold a national membership (site empty).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, null=True, blank=True, related_name="memberships", verbose_name=_("site")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "site", "role"], name="uniq_membership"),
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=models.Q(site__isnull=True),
                name="uniq_national_membership",
            ),
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} {self.role} {self.site or '*'}"


class CertificateStatus(models.TextChoices):
    VALID = "valid", _("valid")
    REDUCED_VALIDITY = "reduced_validity", _("reduced validity")
    SUSPENDED = "suspended", _("suspended")
    ENDED = "ended", _("ended")


class Certificate(models.Model):
    """A certificate of a site with its validity period and state."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="certificates", verbose_name=_("site"))
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=CertificateStatus.choices,
        default=CertificateStatus.VALID,
    )

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")

    def __str__(self) -> str:
        return f"{self.site.registration_number} {self.valid_from:%Y-%m-%d}–{self.valid_until:%Y-%m-%d} ({self.status})"

    def status_on(self, day=None) -> str:
        """The state to show on ``day`` (default today): the recorded status, except
        that a valid (or reduced-validity) certificate past ``valid_until`` is "expired"
        and one before ``valid_from`` "not yet valid" (issue 9: an expired certificate is
        never shown as "gültig")."""
        day = day or timezone.localdate()
        if self.status in (CertificateStatus.VALID, CertificateStatus.REDUCED_VALIDITY):
            if self.valid_until < day:
                return str(_("expired"))
            if self.valid_from > day:
                return str(_("not yet valid"))
        return self.get_status_display()

    @property
    def status_today(self) -> str:
        """``status_on`` today, for templates."""
        return self.status_on()


class AuditKind(models.TextChoices):
    INITIAL = "initial_certification", _("initial certification")
    SURVEILLANCE = "surveillance_audit", _("surveillance audit")
    REPEAT = "repeat_audit", _("repeat audit")
    RECERTIFICATION = "recertification", _("re-certification")


class AuditOutcome(models.TextChoices):
    """What an audit decided about the certificate (Zertifizierungssystem, issue 9)."""

    GRANTED = "granted", _("certificate granted")
    CONTINUED = "continued", _("certificate continued")
    REDUCED_VALIDITY = "reduced_validity", _("reduced validity")
    SUSPENDED = "suspended", _("certificate suspended")
    ENDED = "ended", _("certificate ended")
    ENDED_AT_REQUEST = "ended_at_request", _("certificate ended at the centre's request")


class AuditError(models.TextChoices):
    """Refusals of the audit services (stable codes)."""

    FORBIDDEN = "forbidden", _("Only the certification office assigns auditors.")
    NOT_AUDITOR = "not_auditor", _("Only users with the auditor role can be assigned to an audit.")
    OUTCOME_UNKNOWN = "outcome_unknown", _("Unknown audit outcome.")


class Audit(models.Model):
    """An audit of a site in an audit year; it decides the deviations of indicator year
    ``audit_year - 1`` (GLOSSARY: Auditjahr = Kennzahlenjahr + 1).

    ``auditors`` (Fachexperten) are assigned by the office; they are the only source of an
    auditor's scope (``centres.permissions``). ``reduced_cycle`` marks the reduced audit
    cycle (REDZYK); ``outcome`` is empty until the audit is decided.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="audits", verbose_name=_("site"))
    audit_year = models.PositiveIntegerField(_("audit year"))
    kind = models.CharField(_("kind"), max_length=30, choices=AuditKind.choices)
    date = models.DateField(_("date"), null=True, blank=True)
    auditors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="audits", verbose_name=_("auditors")
    )
    reduced_cycle = models.BooleanField(_("reduced audit cycle (REDZYK)"), default=False)
    outcome = models.CharField(_("outcome"), max_length=20, choices=AuditOutcome.choices, blank=True)

    class Meta:
        ordering = ["-audit_year", "site"]
        verbose_name = _("audit")
        verbose_name_plural = _("audits")

    def __str__(self) -> str:
        return f"{self.site.registration_number} {self.audit_year} {self.get_kind_display()}"

    @property
    def indicator_year(self) -> int:
        """The Kennzahlenjahr whose deviations this audit decides: audit year − 1."""
        return self.audit_year - 1


class NotificationSetting(models.Model):
    """A person's choice about the daily digest mail (issue 9); no row = digest on."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_setting",
        verbose_name=_("user"),
    )
    digest_enabled = models.BooleanField(_("daily digest by e-mail"), default=True)

    class Meta:
        verbose_name = _("notification setting")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return f"{self.user}: {'digest' if self.digest_enabled else 'no digest'}"


class LogEntry(models.Model):
    """One state change: who did what to which object, when (pretix ``log_action``).

    ``action`` is a namespaced code such as ``"indicators.deviation.justified"``.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="qip_log_entries",
        verbose_name=_("actor"),
    )
    action = models.CharField(max_length=100, db_index=True, verbose_name=_("action"))
    content_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, related_name="qip_log_entries", verbose_name=_("object type")
    )
    object_id = models.PositiveBigIntegerField(verbose_name=_("object ID"))
    obj = GenericForeignKey("content_type", "object_id")
    data = models.JSONField(default=dict, blank=True, verbose_name=_("details"))

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["content_type", "object_id"])]
        verbose_name = _("log entry")
        verbose_name_plural = _("log entries")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"
