"""Shared policies: The consortium's shared policies: versioned, adopted, acknowledged by staff."""
