"""The governance reads that the pages, the panel, the API, the PDFs and the commands share,
one concern a module; query counts stay flat however large the consortium grows.

- ``voters``: whom a person votes for today (as director, alternate or proxy), and who may
  look at all;
- ``proposals``: the lists, a proposal's page, the register, the open votes and the
  recent decisions;
- ``results``: a closed vote's chart, its public ballot list and a sealed vote's record;
- ``minutes``: a meeting's minutes, with the roll-call and the proxy chain.
"""
