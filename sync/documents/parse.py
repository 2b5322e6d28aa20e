"""A ``Document`` from YAML text or bytes, strictly validated: the safe loader, JSON types only,
no aliases, bounded size, the envelope and body schema of its kind; else the guide's ``Rejection``."""

import yaml

from .bodies import SIGNATURE, envelope_schema
from .document import KINDS, REQUEST_KINDS, Document, OnPrem, parse_timestamp
from .rejections import MANUAL, CertificatesMissing, Corrupted, NotYaml
from .schema import SchemaError

# A full request for 250,000 product instances is about 100 MB.
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
MAX_NODES = 5_000_000
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the safe loader, in C when available


def _check_plain(data):
    """JSON types only, no YAML aliases (shared nodes), bounded size; else Corrupted."""
    seen = set()
    stack = [data]
    count = 0
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise Corrupted("too many nodes")
        if isinstance(value, dict):
            if id(value) in seen:
                raise Corrupted("YAML aliases are not allowed")
            seen.add(id(value))
            for key, child in value.items():
                if not isinstance(key, str):
                    raise Corrupted(f"non-string key {key!r}")
                stack.append(child)
        elif isinstance(value, list):
            if id(value) in seen:
                raise Corrupted("YAML aliases are not allowed")
            seen.add(id(value))
            stack.extend(value)
        elif value is None or isinstance(value, (str, bool, int)):
            continue
        else:
            # floats, dates, timestamps, binary: the sender never writes them unquoted.
            raise Corrupted(f"unexpected value of type {type(value).__name__}")


def parse(data, *, name=None, mode=MANUAL, expected_kinds=None, max_bytes=MAX_DOCUMENT_BYTES) -> Document:
    """A Document from YAML text or bytes, strictly validated; else a Rejection.

    ``name`` is the uploaded file's name: when given it must end in ``.yml``. Not YAML at all
    (or not a mapping) is ``NotYaml``; YAML that is not a valid document is ``Corrupted``;
    a document whose signature is absent or has no certificates is ``CertificatesMissing``.
    """
    if name is not None and not str(name).lower().endswith(".yml"):
        raise NotYaml("the file name does not end in .yml", mode=mode)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray)):
        raise NotYaml("no file content", mode=mode)
    if len(data) > max_bytes:
        raise Corrupted(f"larger than {max_bytes} bytes", mode=mode)
    try:
        text = bytes(data).decode("utf-8")
        loaded = yaml.load(text, Loader=Loader)  # noqa: S506 - a safe loader
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise NotYaml(f"not YAML: {exc.__class__.__name__}", mode=mode) from None
    except RecursionError:
        raise Corrupted("nested too deeply", mode=mode) from None
    if not isinstance(loaded, dict):
        raise NotYaml("the YAML is not a mapping", mode=mode)
    try:
        _check_plain(loaded)
    except Corrupted as exc:
        exc.mode = mode
        raise
    kind = loaded.get("kind")
    if kind not in KINDS or (expected_kinds and kind not in expected_kinds):
        raise Corrupted(f"unexpected kind {kind!r}", mode=mode)
    # The content first (a truncated file is corrupted), then whether it carries certificates.
    signature = loaded.pop("signature", None)
    try:
        envelope_schema(kind).check(loaded, "")
    except SchemaError as exc:
        raise Corrupted(str(exc), mode=mode) from None
    if not isinstance(signature, dict) or (
        not signature.get("certificates")
        and not (kind == "RegistrationRequest" and signature.get("signer") == "id_csr")
    ):
        raise CertificatesMissing("no signature certificates", mode=mode)
    try:
        SIGNATURE.check(signature, "signature")
    except SchemaError as exc:
        raise Corrupted(str(exc), mode=mode) from None
    id_field = "request_id" if kind in REQUEST_KINDS else "response_id"
    onprem = OnPrem(**loaded["onprem"])
    return Document(
        kind=kind,
        onprem=onprem,
        document_id=loaded[id_field],
        created_at=parse_timestamp(loaded["created_at"]),
        body=loaded["body"],
        sync_type=loaded.get("type"),
        signature=signature,
        version=loaded["version"],
    )
