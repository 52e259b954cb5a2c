"""Committee voting: Committees, proposals, ballots by member library, results and minutes."""
