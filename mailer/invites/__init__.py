"""Tip een collega: the invitation form, its preview, the mail and opting out."""

# Defaults of this area's settings; `MAILER_*` variables and a test config override them.
DEFAULTS = {
    "INVITE_MIN_SECONDS": 3,  # people need longer than this to fill in the form; bots do not
    "INVITE_PREVIEW_MAX_AGE": 3600,  # seconds a preview can wait for Versturen
    "INVITE_LIMIT_IP_HOUR": 5,  # submits per client address (IPv6: per /64)
    "INVITE_LIMIT_IP_DAY": 20,
    "INVITE_LIMIT_RECIPIENT_DAYS": 30,  # one tip per colleague in this many days
    "INVITE_LIMIT_DOMAIN_DAY": 50,  # tips to one mail domain a day
    "INVITE_LIMIT_CLIENT_DOMAIN_DAY": 10,  # of those, from one client address
    "INVITE_LIMIT_TOTAL_DAY": 1000,  # tips a day in all
}
