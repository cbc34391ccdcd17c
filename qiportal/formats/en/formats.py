"""The English pages write dates as the German ones do (``31.12.2023``): one date
format across the portal, never the ambiguous ``12/31/2023``."""

from qiportal.formats.de.formats import (  # noqa: F401
    DATE_FORMAT,
    DATETIME_FORMAT,
    MONTH_DAY_FORMAT,
    SHORT_DATE_FORMAT,
    SHORT_DATETIME_FORMAT,
)
