"""The patron directory: the library's patrons, from CSV imports and the sync API, and
their own preferences. Imports nothing from ``notices``."""
