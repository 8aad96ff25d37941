"""The record: ``models`` (every table) in ``db`` (engines, sessions, migrations, the database's clock);
``audit`` (who did what); ``users`` and ``scope`` (accounts, and the units each may read and act on);
``credentials`` (renewed tokens, sealed); ``catalog`` (the configuration mirrored into the database);
``backup`` and ``scratch`` (copies of the record: archives, and the practice copy); ``lease`` (which node owns
the loudspeaker slots)."""
