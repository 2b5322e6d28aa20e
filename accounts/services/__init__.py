"""Business rules for people and access: users, grants, sign-in."""
