"""The governance writes, one concern a module: ``check_*`` validates and locks, ``do_*``
changes and schedules side effects on commit.

- ``errors``: what a refused write raises (the message is safe to show);
- ``receipts``: a ballot's receipt code, its check and its public fingerprint;
- ``electorate``: who votes on a proposal, and under which authority a person votes;
- ``proposals``: opening (the electorate and its weights frozen, a secret ballot's key),
  extending and withdrawing a vote;
- ``ballots``: casting and changing a ballot;
- ``delegations``: naming and revoking alternates and proxies;
- ``comments``: the discussion of a proposal;
- ``closing``: counting, closing and announcing a decision;
- ``notifications``: the emails when a vote opens, is due and is decided;
- ``queue``: setting a task going by its registered name.

Casting a ballot is one transaction: it takes a shared lock on the proposal (so closing,
which takes an exclusive lock, waits for ballots in flight and no ballot lands after the
count) and an exclusive lock on the library's eligibility row (so two people voting for
the same library at once are serialised). The audit entry is written in the same
transaction: a ballot and its record exist together or not at all.

A secret ballot's choice is sealed (``governance.sealing``) before it reaches the
database; the close opens only the sums, with a proof, and erases the private key.
"""
