"""The languages a post may be in (BCP-47; ``blt`` is the Thái of Sơn La), as staff read them: one table, in a
sentence (``LANGUAGE_NAMES``: "tiếng Thái") and at the head of a line or a column (``LANGUAGE_TITLES``)."""

LANGUAGE_NAMES = {"vi": "tiếng Việt", "blt": "tiếng Thái", "hmn": "tiếng Mông"}
LANGUAGE_TITLES = {code: name[:1].upper() + name[1:] for code, name in LANGUAGE_NAMES.items()}
