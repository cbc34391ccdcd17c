"""Stable codes of the datasheets domain: SPEC §3 validation codes and revision states."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ErrorCode(models.TextChoices):
    """Validation codes of SPEC §3 (values never renamed)."""

    # structure
    FILE_TYPE = "file_type", _("Not an Excel workbook (.xlsx)")
    FILE_TOO_LARGE = "file_too_large", _("File too large")
    UNSAFE_CONTENT = "unsafe_content", _("Unsafe content")
    SHEET_MISSING = "sheet_missing", _("Sheet missing")
    LABEL_MISSING = "label_missing", _("Label missing")
    TEMPLATE_UNKNOWN = "template_unknown", _("Unknown template")
    CATALOGUE_MISMATCH = "catalogue_mismatch", _("Wrong catalogue version")
    SITE_UNKNOWN = "site_unknown", _("Unknown site")
    SITE_FORBIDDEN = "site_forbidden", _("Site not allowed")
    SITE_MISMATCH = "site_mismatch", _("File for another site than the one chosen")
    YEAR_MISMATCH = "year_mismatch", _("Wrong indicator year")
    # values
    REQUIRED = "required", _("Value required")
    NOT_INTEGER = "not_integer", _("Not a whole number")
    NEGATIVE = "negative", _("Negative number")
    TOO_LARGE = "too_large", _("Number too large")
    NUMERATOR_GT_DENOMINATOR = "numerator_gt_denominator", _("Numerator greater than denominator")
    DENOMINATOR_MISMATCH = "denominator_mismatch", _("Denominator differs from Basisdaten")
    TOTAL_MISMATCH = "total_mismatch", _("Total differs from its sum")
    RECONSTRUCTION_SUM = "reconstruction_sum", _("Reconstruction categories do not add up")
    TEXT_TOO_LONG = "text_too_long", _("Text too long")
    # issue 8: what Excel shows, and processing that died
    SHEET_HIDDEN = "sheet_hidden", _("Hidden sheet named like a layout sheet")
    SHEET_DUPLICATE = "sheet_duplicate", _("Two sheets with the same name")
    FORMULA_UNSUPPORTED = "formula_unsupported", _("Formula in an entry cell")
    FORMULA_MISMATCH = "formula_mismatch", _("Formula result differs from the file")
    PROCESSING_ABORTED = "processing_aborted", _("Processing aborted")
    # warnings
    JUSTIFICATION_MISSING = "justification_missing", _("Justification missing")
    NUMBER_AS_TEXT = "number_as_text", _("Number entered as text")
    CACHED_VALUE_MISMATCH = "cached_value_mismatch", _("Formula result differs")


WARNING_CODES = frozenset(
    {
        ErrorCode.JUSTIFICATION_MISSING,
        ErrorCode.NUMBER_AS_TEXT,
        ErrorCode.CACHED_VALUE_MISMATCH,
    }
)


class RevisionStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    VALIDATED = "validated", _("validated")
    FAILED = "failed", _("failed")
    EVALUATED = "evaluated", _("evaluated")
    DISCARDED = "discarded", _("discarded")


class ProcessingStep(models.TextChoices):
    """The two asynchronous steps of a revision (issue 8: attempts are counted per step)."""

    VALIDATE = "validate", _("validation")
    EVALUATE = "evaluate", _("evaluation")


class RevisionError(models.TextChoices):
    """Refused steps on a revision (confirm, discard); the label is the message."""

    WRONG_STATE = "wrong_state", _("This revision is not awaiting confirmation.")


class RevisionSource(models.TextChoices):
    WEB = "web", _("web upload")
    CLI = "cli", _("command line")
    DEMO = "demo", _("demo data")
