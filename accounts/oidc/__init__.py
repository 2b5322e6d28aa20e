"""Sign-in through an external OAuth2 / OpenID Connect provider: the guide's OAuth2 ADFS and SSO
Client. Both run the same authorization-code flow (state, nonce and PKCE against forged or
replayed callbacks) and validate the provider's RS256-signed tokens against its JWKS."""
