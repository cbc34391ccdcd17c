"""German date formats of the portal: ``31.12.2023`` and ``31.12.2023 14:05``, for
``|date`` without argument, ``DATE_FORMAT`` and ``SHORT_DATE_FORMAT`` alike (Django's
own German ``DATE_FORMAT`` would write "31. Dezember 2023")."""

DATE_FORMAT = "d.m.Y"
SHORT_DATE_FORMAT = "d.m.Y"
DATETIME_FORMAT = "d.m.Y H:i"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
MONTH_DAY_FORMAT = "d.m."
