"""The languages a post may be in (BCP-47; ``blt`` is the Thái of Sơn La), as staff read them."""

LANGUAGE_NAMES = {"vi": "tiếng Việt", "blt": "tiếng Thái", "hmn": "tiếng Mông"}
