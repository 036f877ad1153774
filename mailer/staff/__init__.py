"""The staff area at /beheer/: sign-in with two-factor, review, adopters, figures, the audit log."""

# Defaults of this area's settings; `MAILER_*` variables and a test config override them.
DEFAULTS = {
    # Session cookie sent over HTTPS only; unset, it follows SITE_URL (https:// in production).
    "SESSION_COOKIE_SECURE": None,
    "REVIEW_EMAIL": "",  # told of every confirmed registration; empty: nobody is told
    "STAFF_IDLE_MINUTES": 30,  # a staff session ends after this long without a request
    "STAFF_SESSION_HOURS": 8,  # and this long after sign-in, whatever happens
    "STAFF_LOGIN_LIMITS": [[5, 900]],  # failed sign-ins [count, seconds] per typed address
    "STAFF_LOGIN_LIMITS_PER_IP": [[20, 900]],  # failed sign-ins per client address
    "AUDIT_KEEP_DAYS": 730,  # the audit log is kept two years, as the privacy page says
    "SITE_REBUILD_QUIET_SECONDS": 5,  # a burst of changes ends after this long without one
    "SITE_REBUILD_MAX_WAIT_SECONDS": 30,  # a long burst still gets a build after this long
    "SITE_REBUILD_RETRY_SECONDS": 60,  # after a failed build, try again this much later
    # The site generator, run in the project folder; {dest} is the new folder. Empty: MkDocs.
    "SITE_BUILD_COMMAND": "",
}
