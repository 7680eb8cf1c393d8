"""A coarse client fingerprint for fraud signals (not for tracking people).

Many accounts voting with one identical fingerprint from one network is a farm
signal; alone it proves nothing, so it only ever feeds a score for human review.
"""

import hashlib

FINGERPRINT_HEADERS = ("User-Agent", "Accept-Language", "X-Client-Fingerprint")


def client_fingerprint(request) -> str:
    parts = [request.headers.get(name, "")[:512] for name in FINGERPRINT_HEADERS]
    if not any(parts):
        return ""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
