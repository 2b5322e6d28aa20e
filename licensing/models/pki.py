"""Signing authorities (the server's CA material) and the ID certificates issued to devices.

A local account signs device ID certificates and protocol replies with its *current* signing
authority. Until synchronization with CSSM installs a CSSM-signed certificate, that authority
is generated locally (self-signed). Installing a new one never edits the old row: it adds a row
and retires the previous one (``is_current`` False), so certificates already issued keep
pointing at the authority that signed them and devices are moved over at their next RENEW_ID.
``chain_pem`` holds the certificates above the signing certificate (issuing CA .. root), empty
for a self-signed one. One authority with no account signs replies to messages that cannot be
tied to a local account (unknown token, unknown certificate).
"""

from django.db import models
from django.db.models import Q

from core.crypto import EncryptedTextField


class SigningAuthority(models.Model):
    class Source(models.TextChoices):
        LOCAL = "local", "Generated locally"
        CSSM = "cssm", "Signed by CSSM"

    account = models.ForeignKey(
        "licensing.LocalAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="signing_authorities"
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.LOCAL)
    certificate_pem = models.TextField()
    chain_pem = models.TextField(blank=True)
    # PKCS#8 PEM, Fernet-encrypted in the database (core.crypto).
    private_key = EncryptedTextField()
    serial_hex = models.CharField(max_length=40)
    not_after = models.DateTimeField()
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(is_current=True, account__isnull=False),
                name="signing_authority_one_current_per_account",
            ),
            models.UniqueConstraint(
                fields=["is_current"],
                condition=Q(is_current=True, account__isnull=True),
                name="signing_authority_one_current_server",
            ),
        ]

    def __str__(self):
        return f"{self.get_source_display()} signing authority {self.serial_hex} ({self.account_id or 'server'})"

    def chain(self):
        """The PEM certificates devices are told to trust: the signing certificate first, then its issuers."""
        from core.pki import split_pem_chain

        return [self.certificate_pem.strip() + "\n", *split_pem_chain(self.chain_pem or "")]


class DeviceCertificate(models.Model):
    """An ID certificate issued to a product instance (REGISTER, RENEW_ID)."""

    product_instance = models.ForeignKey(
        "licensing.ProductInstance", on_delete=models.CASCADE, related_name="id_certificates"
    )
    authority = models.ForeignKey(SigningAuthority, on_delete=models.RESTRICT, related_name="issued_certificates")
    # Lowercase hex, no padding: what devices put in ``signature.key``.
    serial_hex = models.CharField(max_length=40, unique=True)
    certificate_pem = models.TextField()
    public_key_sha256 = models.CharField(max_length=64)
    issued_at = models.DateTimeField()
    not_after = models.DateTimeField()
    renew_after = models.DateTimeField()
    # Set when RENEW_ID replaced it: still accepted for a short grace period (a lost reply).
    superseded_at = models.DateTimeField(null=True, blank=True)
    # Set when it can no longer be used (re-registration, deregistration).
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [models.Index(fields=["product_instance", "revoked_at"], name="devcert_pi_revoked")]

    def __str__(self):
        return f"ID certificate {self.serial_hex} of {self.product_instance_id}"
