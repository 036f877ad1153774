"""Bot traps that need no third party: a signed stamp of when a form was shown, and a minimum time
before it may come back. Both public forms use them (with a honeypot field of their own)."""

import time

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer


def sign_started(form_name: str) -> str:
    """A signed stamp of this moment, for the form's hidden `started` field."""
    return _serializer(form_name).dumps(time.time())


def seconds_since_start(form_name: str, stamp: str | None) -> float | None:
    """Seconds since the stamp was made, or None when it is missing or forged."""
    try:
        return time.time() - float(_serializer(form_name).loads(stamp or ""))
    except (BadData, TypeError, ValueError):
        return None


def refuse_hasty(form, form_name: str, min_seconds: float, again: str) -> bool:
    """True, with a form error and a fresh stamp, when the form came back forged or too fast.

    A person who autofills a form can be quick: the message asks them to check and send it
    again (`again` names how), and the fresh stamp lets that second try through.
    """
    elapsed = seconds_since_start(form_name, form.started.data)
    if elapsed is not None and elapsed >= min_seconds:
        return False
    if elapsed is None:
        form.form_errors.append(f"Het formulier was niet compleet. Controleer de gegevens en "
                                f"{again}.")
    else:
        form.form_errors.append(f"Dat ging erg snel. Controleer de gegevens en {again}.")
    form.started.data = sign_started(form_name)
    return True


def _serializer(form_name: str) -> URLSafeSerializer:
    """The serializer for one form's stamps; the name keeps one form's stamp out of another."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"{form_name}-started")
