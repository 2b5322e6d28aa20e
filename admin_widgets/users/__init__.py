"""The Users widget: the table of users and the guide's actions on them."""
