"""The portal's policy pages, thin: access through ``portal.access``, reads in the selectors,
writes through the services. ``common`` holds what every page checks."""
