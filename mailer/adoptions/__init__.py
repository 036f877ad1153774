"""Join: company registration, review and the adoption counter."""

# Defaults of this area's settings; `MAILER_*` variables and a test config override them.
DEFAULTS = {
    "JOIN_TOKEN_HOURS": 48,  # how long the confirmation link in the mail works
    "JOIN_REJECTED_DAYS": 30,  # how long a rejected registration is kept, for questions about it
    "JOIN_MIN_FILL_SECONDS": 3,  # a form sent back faster than this was filled in by a bot
    "JOIN_LIMITS_PER_IP": [[5, 3600], [20, 86400]],  # [registrations, seconds] per client address
    "JOIN_LIMITS_PER_ADDRESS": [[3, 86400]],  # confirmation mails to one contact address
    "ADOPTERS_BEFORE_REGISTRY": 25,  # until staff set it: the number in the source document
}
