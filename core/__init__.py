"""The base layer: what every app builds on (errors, events, listing, CSV, crypto, PKI, TLS,
mail, syslog, metrics, request limits, system settings). It imports no app of the project;
docs/development/layout.md draws the layers."""

__version__ = "0.1.0"
