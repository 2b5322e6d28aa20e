"""The Access Management widget: LDAP Configuration, LDAP Users, LDAP Groups, OAuth2 ADFS, SSO Client."""
