"""Django settings for running BottleCRM (PyPI django-crm) as an einklang test server.

The package's own settings want PostgreSQL (row-level security) and Redis for Celery; for tests
SQLite and an in-memory broker are enough and need no services.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "einklang-dev-secret-key-not-for-production-0123456789")
os.environ.setdefault("ENV_TYPE", "dev")
from crm.settings import *  # noqa: E402,F403

if os.environ.get("BOTTLECRM_USE_POSTGRES") != "1":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BOTTLECRM_SQLITE", "db.sqlite3"),
            # a test server: commits need not survive a power cut (a crashed server loses nothing),
            # and without an fsync per commit the migrations and every write are faster
            "OPTIONS": {"init_command": "PRAGMA synchronous=OFF"},
        }
    }
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = True
DEBUG = os.environ.get("BOTTLECRM_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="bottlecrm-media-")
