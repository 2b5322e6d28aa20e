"""Registration and synchronization with CSSM: the On-Prem side (docs/synchronization.md)."""
