"""Business rules of the licensing domain."""
