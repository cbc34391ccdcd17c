"""Stable codes of the indicators domain (TextChoices; values are never renamed)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .domain import Flag as DomainFlag


class Kind(models.TextChoices):
    RATE = "rate", _("rate")
    COUNT = "count", _("count")


class Flag(models.TextChoices):
    """Flags of SPEC §4; values equal ``indicators.domain.Flag``."""

    NOT_EVALUABLE = DomainFlag.NOT_EVALUABLE.value, _("not evaluable")
    TARGET_NOT_MET = DomainFlag.TARGET_NOT_MET.value, _("target not met")
    IMPLAUSIBLE_LOW = DomainFlag.IMPLAUSIBLE_LOW.value, _("implausible (low)")
    IMPLAUSIBLE_HIGH = DomainFlag.IMPLAUSIBLE_HIGH.value, _("implausible (high)")


class DeviationState(models.TextChoices):
    """Review states of SPEC §4."""

    OPEN = "open", _("open")
    JUSTIFIED = "justified", _("justified")
    ACCEPTED = "accepted", _("accepted")
    NOTE = "note", _("note (Hinweis)")
    NONCONFORMITY = "nonconformity", _("nonconformity (Abweichung)")
    RESOLVED = "resolved", _("resolved")


class ReasonCode(models.TextChoices):
    """Why a deviation happened: the coordinator's category beside the free-text
    Begründung (issue 9). Values are stable codes."""

    PATIENT_REFUSAL = "patient_refusal", _("patient refusal or contraindication")
    COMORBIDITY = "comorbidity", _("comorbidity")
    SMALL_NUMBERS = "small_numbers", _("small numbers")
    DOCUMENTATION_CORRECTED = "documentation_corrected", _("documentation error, corrected in a new revision")
    DEFINITION_UNCLEAR = "definition_unclear", _("definition unclear")
    EXTERNAL_PARTNER = "external_partner", _("treated by an external partner without feedback")
    QUALITY_GAP = "quality_gap", _("real quality gap, measures taken")
    OTHER = "other", _("other")


class Certainty(models.TextChoices):
    VERIFIED = "verified", _("verified")
    SEED = "seed", _("seed (commission protocol)")
    INFERRED = "inferred", _("inferred")
    TITLE_ONLY = "title-only", _("title only")


class DeviationError(models.TextChoices):
    FORBIDDEN = "forbidden", _("You may not do this for this site.")
    WRONG_STATE = "wrong_state", _("This step is not possible in the current state.")
    DUE_DATE_REQUIRED = "due_date_required", _("A nonconformity needs a due date.")
    CORRECTIVE_ACTION_REQUIRED = "corrective_action_required", _("A nonconformity needs a corrective action.")
    TEXT_REQUIRED = "text_required", _("Please enter a text.")
    NOT_ANSWERED = "not_answered", _("The centre has not answered this nonconformity yet.")
    EVIDENCE_TYPE = "evidence_type", _("Evidence must be a PDF, PNG or JPEG file.")
    EVIDENCE_SIZE = "evidence_size", _("The evidence file is too large.")
