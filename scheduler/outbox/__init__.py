"""The outbox: every delivery from due to done. ``dispatch`` claims due deliveries and sends them (the only
caller of ``Channel.send``); ``deliveries`` is the one writer of a delivery's state, checked by the state
machine of ``states`` (with the retry policy, no I/O); ``posts`` builds what a claim sends after re-checking
its approval; ``progress`` is what a channel tells the outbox while a send runs; ``holds`` keeps a channel
quiet for a while, and why; ``workers`` names this worker and asks whether another is alive."""
