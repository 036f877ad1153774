"""Tip a colleague: the invitation mailer."""
