"""The Synchronization widget: per-account synchronization with CSSM, schedules, data privacy, history."""
