"""The embedded defaults: with nothing set the shop runs on SQLite, locmem, eager tasks."""

import os
import subprocess
import sys

BASE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLEAN_ENV = {
    "PATH": os.environ["PATH"],
    "DJANGO_SETTINGS_MODULE": "shop.settings",
    "HOME": os.environ.get("HOME", "/tmp"),
}


def settings_in_a_fresh_process(expression, **env):
    code = (
        f"import django; django.setup(); from django.conf import settings as s; print({expression})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE,
        env={**CLEAN_ENV, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    return result


def test_defaults_are_sqlite_locmem_eager_tasks_and_console_email():
    result = settings_in_a_fresh_process(
        "s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'], "
        "s.CELERY_TASK_ALWAYS_EAGER, s.EMAIL_BACKEND, s.DEBUG"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "django.db.backends.sqlite3 django.core.cache.backends.locmem.LocMemCache True "
        "django.core.mail.backends.console.EmailBackend True"
    )


def test_redis_url_switches_cache_sessions_and_broker():
    result = settings_in_a_fresh_process(
        "s.CACHES['default']['BACKEND'], s.SESSION_ENGINE, s.CELERY_BROKER_URL, "
        "s.CELERY_TASK_ALWAYS_EAGER",
        REDIS_URL="redis://127.0.0.1:6379/3",
    )
    assert result.stdout.split() == [
        "shop.cache_backend.RedisCache",
        "django.contrib.sessions.backends.cached_db",
        "redis://127.0.0.1:6379/3",
        "False",
    ]


def test_production_refuses_to_start_without_a_secret_key():
    result = settings_in_a_fresh_process("s.DEBUG", DEBUG="false")
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_deploy_check_is_clean_with_debug_off_and_a_real_secret():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE,
        env={
            **CLEAN_ENV,
            "DEBUG": "false",
            "SECRET_KEY": "x7!" + "k" * 60 + "Qz#9",
            "ALLOWED_HOSTS": "shop.example.com",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
