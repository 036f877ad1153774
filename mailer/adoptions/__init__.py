"""Join: company registration, review and the adoption counter."""
