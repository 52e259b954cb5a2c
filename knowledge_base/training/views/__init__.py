"""The portal's training pages, thin: each checks access on the server, then calls a
selector or a service. ``courses`` (taking a course), ``assignment``, ``certificates`` (and
their public verification) and ``reports``."""
