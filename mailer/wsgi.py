"""The app as gunicorn serves it: `gunicorn mailer.wsgi:app`, one per worker process.

What the app holds at this point (Flask, SQLAlchemy, routes, templates) lives as long as the
process, so it is set aside from Python's cyclic garbage collector (`gc.freeze`). Otherwise
every full collection walks all of it again: a pause of several milliseconds now and then,
which showed in the slowest answers under load.
"""

import gc

from . import create_app

app = create_app()
gc.collect()
gc.freeze()
