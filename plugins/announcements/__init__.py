"""Announcements: News from the consortium office and directors to member staff."""
