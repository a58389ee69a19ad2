"""``psflow`` sub-commands per noun (engagement, schedule, exceptions, invoice, ...), registered in ``cli.py``."""
