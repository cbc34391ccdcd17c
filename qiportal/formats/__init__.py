"""The portal's date formats (issue 9): one German date format, TT.MM.JJJJ, on every
page and in both UI languages (``FORMAT_MODULE_PATH`` in settings). Only the date and
date-time display formats are set here; numbers and input formats stay Django's."""
