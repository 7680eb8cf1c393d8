"""Sending text messages (phone verification codes).

``SMS_BACKEND`` names a class with ``send(phone, message)``. Encore ships the file
backend (one file per message under ``var/sms/``, so a person trying the demo can read
the code, like mail in ``var/mail/``) and an in-memory one for tests. A deployment that
turns phone verification on plugs its provider in with a class of its own.
"""

import time
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

outbox: list[tuple[str, str]] = []


class FileSMSBackend:
    def send(self, phone: str, message: str) -> None:
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns()}.txt"
        (folder / name).write_text(f"To: {phone}\n\n{message}\n", encoding="utf-8")


class LocmemSMSBackend:
    def send(self, phone: str, message: str) -> None:
        outbox.append((phone, message))


def sms_send(*, phone: str, message: str) -> None:
    import_string(settings.SMS_BACKEND)().send(phone, message)
