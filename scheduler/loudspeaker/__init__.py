"""The loudspeaker's schedule (hệ thống truyền thanh): ``programmes`` builds each slot's programme ahead,
``broadcast`` starts it on time and follows it; ``asrun`` keeps what played (the as-run log); ``fill`` puts
evergreen items into a slot that would miss a target, and says which deliveries a slot takes; ``station``
keeps the station's own jingle, station ID and outro. The audio itself (speech text, voices, levelling,
playout) is ``channels/loudspeaker``."""
