"""Test settings: the real settings with tasks run eagerly unless a test starts a worker."""

import os
import tempfile

os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")

from shop.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="shop-test-media-")
# Tests sign staff in without an authenticator; tests/accounts/test_staff_mfa.py turns it on.
STAFF_REQUIRE_MFA = False
PRIVATE_MEDIA_ROOT = tempfile.mkdtemp(prefix="shop-test-private-")
