"""A throw-away embedded qiportal for scripts (benchmarks, corpus generation).

``scratch_setup(prefix)`` points the settings at a fresh temporary data folder (SQLite,
eager tasks; any ``DATABASE_URL`` / ``CELERY_BROKER_URL`` of the shell is ignored), sets
Django up and migrates. Call it before importing models.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def scratch_setup(prefix: str = "qiportal-scratch-") -> Path:
    """Configure and migrate a scratch database; returns its data folder."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qiportal.settings")
    os.environ.setdefault("QIPORTAL_ALLOW_INSECURE_KEY", "1")
    os.environ["QIPORTAL_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return data_dir
