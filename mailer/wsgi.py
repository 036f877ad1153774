"""The app as gunicorn serves it: `gunicorn mailer.wsgi:app`."""

from . import create_app

app = create_app()
