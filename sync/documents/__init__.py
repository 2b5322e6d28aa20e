"""The synchronization documents exchanged with CSSM: build, sign, serialize, parse, verify.

Pure functions and dataclasses (no Django models), shared by the On-Prem side (``sync``) and
the CSSM emulator (``sync.emulator``). The wire format is described in docs/sync-protocol.md;
the short version:

* A document is one YAML mapping: ``kind``, ``version``, ``onprem`` {name, uid, smart_account,
  virtual_account}, ``request_id`` (requests) or ``response_id`` (responses), ``created_at``,
  ``type`` (``standard``/``full``, sync documents only), ``body`` and ``signature``.
* The signature covers the *canonical serialization* of everything but ``signature``: JSON
  with sorted keys, no whitespace, UTF-8 (``canonical.canonical_bytes``). Signing the header
  too (not only the body) is deliberate: otherwise anyone could re-date or re-number a response
  and replay it past the "already processed" check.
* ``signature.certificates`` carries the signer's certificate first, then its issuers (the
  root may be omitted); the verifier accepts it only in the role that signs that kind of
  document (``sync.certificate_roles``: CSSM's document signer for an Authorization or
  SyncResponse, the On-Prem's ID certificate for a SyncRequest), under a root it already
  trusts. Chaining to the root is not enough: a device's ID certificate chains there too. A
  ``RegistrationRequest`` has no certificate yet: it is signed with the key of its ``id_csr``
  (``signer: id_csr``).

One module per job; import a name from the module that owns it:

* ``document``: the format's constants, ``OnPrem``, ``Document``, timestamps, ids;
* ``rejections``: the guide's rejection texts and the ``Rejection`` classes carrying them;
* ``canonical``: the canonical form that signatures cover, and ``CanonicalList``;
* ``schema``: the strict schema classes (``Str``, ``Int``, ``Obj``, ``List``, ...), ``SchemaError``;
* ``bodies``: the schema of each kind of document;
* ``build``: a new, validated, unsigned document;
* ``signing``: signing a document, and the On-Prem's CSRs;
* ``serialize``: the YAML text and the file name;
* ``parse``: YAML to a strictly validated ``Document``;
* ``verify``: the signer, the signature and the guide's checks, in the guide's order.
"""
