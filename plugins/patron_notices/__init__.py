"""Patron notices: the patron directory and consortium-wide notices to patrons."""
