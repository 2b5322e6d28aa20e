"""Security widget records (guide "Security Widget": Account, Password and Certificates tabs).

``SecurityPolicy`` is the one row (pk 1) of settings the widget edits; the login flow, the
password validator and the certificate pages read it. The other models are the state those
rules need: failed logins in the lock window, locks, the live sessions per user, the
password-hash history, and the key of the last generated CSR (encrypted at rest).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core import networks
from core.crypto import EncryptedTextField

# The most one product instance may report of one license: far above what real devices count (a
# big chassis reports thousands; a collaboration cluster counts up to some 80,000 users), far
# below what takes a virtual account's usage out of all proportion. The device protocol's own
# bound (licensing/transport/validation.py) is the top of the range.
DEFAULT_MAX_LICENSE_COUNT = 100_000
MAX_LICENSE_COUNT = 1_000_000
# The most licenses one message may name: devices use a few dozen; AUTHORIZE carries 500 at most.
DEFAULT_MAX_LICENSES_PER_MESSAGE = 100
MAX_LICENSES_PER_MESSAGE = 500
MAX_NETWORKS_TEXT = 4000


def validate_networks(text):
    networks.parse(text)


class SecurityPolicy(models.Model):
    # Account tab
    auto_lock_enabled = models.BooleanField(default=False)
    auto_lock_attempts = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(99)]
    )
    auto_lock_window_minutes = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(1), MaxValueValidator(1440)]
    )
    lock_expiration_enabled = models.BooleanField(default=False)
    # The guide: "greater than 1 minute".
    lock_expiration_minutes = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(2), MaxValueValidator(525600)]
    )
    session_limit_enabled = models.BooleanField(default=False)
    session_limit = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(999)]
    )
    # Account tab, Registration: new product instances a registration token / a virtual
    # account may add per hour, so a leaked token cannot mint unbounded instances; 0 = unlimited.
    registration_limit_per_token = models.PositiveIntegerField(
        default=1000, validators=[MinValueValidator(0), MaxValueValidator(1000000)]
    )
    registration_limit_per_va = models.PositiveIntegerField(
        default=5000, validators=[MinValueValidator(0), MaxValueValidator(1000000)]
    )

    class CsluAccess(models.TextChoices):
        OPEN = "open", _("Open: any source, no token (as the guide describes CSLU)")
        TOKEN = "token", _("Require a registration token to add a product instance")
        NETWORKS = "networks", _("Only from the listed source networks")

    # Account tab, device channel: who may push to the CSLU endpoint (docs/security.md, "CSLU
    # pushes"). The default keeps the guide's tokenless pushes for devices on the private networks
    # an on-premises server serves, and refuses them from anywhere else.
    cslu_access = models.CharField(max_length=16, choices=CsluAccess.choices, default=CsluAccess.NETWORKS)
    cslu_networks = models.TextField(
        max_length=MAX_NETWORKS_TEXT,
        blank=True,
        default="\n".join(networks.PRIVATE),
        validators=[MaxLengthValidator(MAX_NETWORKS_TEXT), validate_networks],
    )
    # The usage bounds (licensing/services/usage_bounds.py): a message over them is refused whole.
    device_max_license_count = models.PositiveIntegerField(
        default=DEFAULT_MAX_LICENSE_COUNT, validators=[MinValueValidator(1), MaxValueValidator(MAX_LICENSE_COUNT)]
    )
    device_max_licenses_per_message = models.PositiveIntegerField(
        default=DEFAULT_MAX_LICENSES_PER_MESSAGE,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_LICENSES_PER_MESSAGE)],
    )
    # Password tab: settings (guide defaults)
    login_error_hints = models.BooleanField(default=True)
    forgot_password_enabled = models.BooleanField(default=False)
    force_change_after_reset = models.BooleanField(default=True)
    strength_rules_enabled = models.BooleanField(default=True)
    rule_not_username = models.BooleanField(default=True)
    # The character-class rules start off: the guide gives no defaults, so a fresh installation
    # checks only length, common passwords and the user name.
    rule_mixed_case = models.BooleanField(default=False)
    rule_digit = models.BooleanField(default=False)
    rule_special = models.BooleanField(default=False)
    rule_not_common = models.BooleanField(default=True)
    min_length = models.PositiveSmallIntegerField(default=8, validators=[MinValueValidator(1), MaxValueValidator(15)])
    history_enabled = models.BooleanField(default=False)
    history_count = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(99)]
    )
    # Password tab: expiration
    expiration_enabled = models.BooleanField(default=False)
    expiration_days = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(3650)]
    )
    expiration_warning_enabled = models.BooleanField(default=True)
    expiration_warning_days = models.PositiveIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    change_after_expiry_allowed = models.BooleanField(default=True)
    expiration_email_enabled = models.BooleanField(default=False)
    expiration_email_days = models.PositiveIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    # Certificates tab
    host_common_name = models.CharField(max_length=253, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="security_policy_single_row")]

    def __str__(self):
        return "Security policy"

    def clean(self):
        # The field's validator already named a bad entry; only a valid list is rewritten here.
        try:
            self.cslu_networks = networks.canonical(self.cslu_networks)
        except ValidationError:
            return
        if self.cslu_access == self.CsluAccess.NETWORKS and not self.cslu_networks:
            raise ValidationError(
                {"cslu_networks": _("List at least one network, or choose another way to accept CSLU pushes.")}
            )


class LoginFailure(models.Model):
    """One failed login of a known user; only those inside the auto-lock window matter."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "at"], name="login_failure_user_at")]


class UserLock(models.Model):
    """A user locked by the auto-lock rule until an administrator unlocks them or the lock expires."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="security_lock")
    locked_at = models.DateTimeField()


class UserSession(models.Model):
    """A signed-in session of a user, so the session limit can count and end them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=40, unique=True)
    started_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "started_at"], name="user_session_started")]


class PasswordHistory(models.Model):
    """A hash of a password the user had, for "must not use previously used password"."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="password_history_user")]


class PendingCsr(models.Model):
    """The private key of the last certificate signing request (pk 1), kept until its certificate
    is imported, so the administrator never has to handle the key file."""

    common_name = models.CharField(max_length=253)
    csr_pem = models.TextField()
    private_key = EncryptedTextField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="pending_csr_single_row")]
