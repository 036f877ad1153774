"""gunicorn's settings for the service: `gunicorn -c deploy/gunicorn.conf.py mailer.wsgi:app`.

Reachable only through nginx: it listens on the loopback address, never on a public one. nginx
reads each request whole before passing it on and takes the answer at once (its buffering), so a
slow client ties up an nginx connection, not one of these few sync workers.
"""

import re

from gunicorn.glogging import Logger

bind = "127.0.0.1:8000"
workers = 4
timeout = 30
accesslog = "-"
# No control socket (gunicorn 25 and later): nothing here uses it, and one path shared by every
# gunicorn of the user would clash between several.
control_socket_disable = True

# Confirmation and opt-out links carry a token that acts as a password: keep it out of the log
# (path, request line, referring page, any header or environment value that repeats them).
# Matched loosely (any case, an encoded slash too), as Werkzeug decodes the path before routing.
TOKEN_PATH = re.compile(r"((?:bevestigen|afmelden)(?:/|%2f))[^\s?#\"]+", re.IGNORECASE)


class MaskedAccessLogger(Logger):
    """gunicorn's logger, with the tokens in confirmation and opt-out paths masked."""

    def atoms(self, resp, req, environ, request_time):
        """The values of the access log line, every text in it masked."""
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if isinstance(value, str):
                atoms[key] = TOKEN_PATH.sub(r"\1***", value)
        return atoms


logger_class = MaskedAccessLogger
