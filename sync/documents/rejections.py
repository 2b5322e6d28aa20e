"""Every rejection of the vendor guide ("Synchronization Failed (Manual Synchronization)" and
"(Network Synchronization)") is a ``Rejection`` subclass, carrying the guide's exact text for
both modes; ``parse`` and ``verify`` raise the one that applies.

The texts are verbatim. Two of the guide's lines break off at a page end ("... has an invalid"
/ "... the most recent"); they are completed here with the words the parallel messages use and
marked "completed" in docs/sync-protocol.md.
"""

MSG_WRONG_ACCOUNT = "Please ensure the file being uploaded corresponds to this On-Prem."
MSG_NOT_YAML = (
    "The file you selected is not a valid synchronization response file. It must be in YAML format "
    "with the file extension \u201c.yml\u201d. Ensure the correct file was selected and try again."
)
MSG_CORRUPTED = (
    "The file you selected is not a valid synchronization response file. It might be corrupted or "
    "was modified after being downloaded from Smart Software Manager. Redownload the synchronization "
    "response file and try again."
)
MSG_MODIFIED = (
    "The file you selected is not a valid synchronization response file. It appears to have been "
    "modified after it was downloaded from Smart Software Manager. Redownload the synchronization "
    "response file and try again."
)
MSG_TIMESTAMP = "Invalid Certificate timestamp. Please ensure the On-Prem is synchronized with the NTP server."
MSG_INVALID_ID_CERTIFICATE = (
    "Invalid ID Certificate. The file you uploaded has an invalid certificate. Ensure the file you "
    "uploaded corresponds to this On-Prem and it has not been modified."
)
MSG_INVALID_SIGNING_CERTIFICATE = (
    "Invalid Signing Certificate. The file you uploaded has an invalid certificate. Ensure the file "
    "you uploaded corresponds to this On-Prem and it has not been modified."
)
MSG_ALREADY_PROCESSED = (
    "The synchronization response file you selected has already been processed by this On-Prem. "
    "Ensure that you are selecting the most recent synchronization response file."
)
MSG_CERTIFICATES_MISSING = (
    "The file you selected is not a valid synchronization response file. Certificates are missing in "
    "the response file which you have uploaded. Redownload the synchronization response file and try again."
)
MSG_INVALID_CERTIFICATE = (
    "Invalid Certificate. The file uploaded during synchronization has an invalid certificate. "
    "Please do a full synchronization to get a new certificate."
)
# Network synchronization.
MSG_NET_INVALID_FILE = "The file being processed for this On-Prem is invalid."
MSG_NET_INVALID_ID_CERTIFICATE = "Invalid ID Certificate. The file being processed has an invalid certificate."
MSG_NET_INVALID_SIGNING_CERTIFICATE = (
    "Invalid Signing Certificate. The file being processed has an invalid certificate."
)
MSG_NET_INVALID_CERTIFICATE = (
    "Invalid Certificate. The file being processed during synchronization has an invalid certificate. "
    "Please do a full synchronization to get a new certificate."
)

MANUAL = "manual"
NETWORK = "network"


class Rejection(Exception):
    """A document the receiver must refuse. ``message`` is the guide's text for ``mode``.

    ``detail`` says what exactly was wrong, for logs and tests; it is never shown instead of
    the guide's message.
    """

    code = "invalid"
    manual_message = MSG_CORRUPTED
    network_message = MSG_NET_INVALID_FILE

    def __init__(self, detail="", *, mode=MANUAL):
        self.detail = detail
        self.mode = mode
        super().__init__(self.message)

    @property
    def message(self):
        return self.network_message if self.mode == NETWORK else self.manual_message

    def __str__(self):
        return self.message


class WrongAccount(Rejection):
    code = "wrong_account"
    manual_message = MSG_WRONG_ACCOUNT


class NotYaml(Rejection):
    code = "not_yaml"
    manual_message = MSG_NOT_YAML


class Corrupted(Rejection):
    code = "corrupted"
    manual_message = MSG_CORRUPTED


class Modified(Rejection):
    code = "modified"
    manual_message = MSG_MODIFIED


class TimestampSkew(Rejection):
    code = "timestamp"
    manual_message = MSG_TIMESTAMP
    network_message = MSG_TIMESTAMP


class InvalidIdCertificate(Rejection):
    code = "invalid_id_certificate"
    manual_message = MSG_INVALID_ID_CERTIFICATE
    network_message = MSG_NET_INVALID_ID_CERTIFICATE


class InvalidSigningCertificate(Rejection):
    code = "invalid_signing_certificate"
    manual_message = MSG_INVALID_SIGNING_CERTIFICATE
    network_message = MSG_NET_INVALID_SIGNING_CERTIFICATE


class AlreadyProcessed(Rejection):
    code = "already_processed"
    manual_message = MSG_ALREADY_PROCESSED


class CertificatesMissing(Rejection):
    code = "certificates_missing"
    manual_message = MSG_CERTIFICATES_MISSING


class InvalidCertificate(Rejection):
    """The ID certificate is unusable: only a full synchronization (a new certificate) helps."""

    code = "invalid_certificate"
    manual_message = MSG_INVALID_CERTIFICATE
    network_message = MSG_NET_INVALID_CERTIFICATE


REJECTIONS = {
    cls.code: cls
    for cls in (
        WrongAccount,
        NotYaml,
        Corrupted,
        Modified,
        TimestampSkew,
        InvalidIdCertificate,
        InvalidSigningCertificate,
        AlreadyProcessed,
        CertificatesMissing,
        InvalidCertificate,
    )
}
