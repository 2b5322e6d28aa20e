"""A real OpenLDAP server for the tests: ``slapd`` from the Debian package, run as a child process
with its own slapd.conf and mdb database in a temporary folder, on a loopback port."""

import os
import shutil
import subprocess
from pathlib import Path

from bench.harness import Process
from tests import ports

SLAPD = shutil.which("slapd") or ("/usr/sbin/slapd" if Path("/usr/sbin/slapd").exists() else None)
LDAPADD = shutil.which("ldapadd")
LDAPMODIFY = shutil.which("ldapmodify")
SUFFIX = "dc=example,dc=com"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret-1"
READER_DN = f"cn=reader,{SUFFIX}"
READER_PASSWORD = "Reader-Bind-Secret-77"

CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {dir}/slapd.pid
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to * by dn.exact="{reader}" read by users read by * none
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "{root}"
rootpw {rootpw}
directory {dir}/db
"""

SEED = """\
dn: {suffix}
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: cn=reader,{suffix}
objectClass: inetOrgPerson
cn: reader
sn: Reader
userPassword: {reader_password}

dn: ou=people,{suffix}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{suffix}
objectClass: organizationalUnit
ou: groups
"""


class Slapd:
    def __init__(self, workdir, tls=None):
        """``tls``: ``(ca_file, cert_file, key_file)`` to serve LDAP over TLS (ldaps://) only."""
        self.dir = Path(workdir)
        self.tls = tls
        self.port = None
        self.process = None

    @property
    def uri(self):
        return f"{'ldaps' if self.tls else 'ldap'}://127.0.0.1:{self.port}"

    def start(self):
        (self.dir / "db").mkdir(parents=True, exist_ok=True)
        conf = self.dir / "slapd.conf"
        text = CONFIG.format(dir=self.dir, suffix=SUFFIX, root=ROOT_DN, rootpw=ROOT_PASSWORD, reader=READER_DN)
        if self.tls:
            ca, cert, key = self.tls
            text = f"TLSCACertificateFile {ca}\nTLSCertificateFile {cert}\nTLSCertificateKeyFile {key}\n" + text
        conf.write_text(text)
        self.port = ports.claim_port(ports.DIRECTORY)
        # -d 0: stay in the foreground (a child that dies with the tests), log nothing.
        self.process = Process(
            [SLAPD, "-f", conf, "-h", self.uri + "/", "-d", "0"],
            log=self.dir / "slapd.log",
            port=self.port,
            name="slapd",
        ).start()
        self.process.wait_for_port(timeout=10)
        self.add(SEED.format(suffix=SUFFIX, reader_password=READER_PASSWORD))
        return self

    def _run(self, tool, ldif):
        result = subprocess.run(
            [tool, "-x", "-H", self.uri, "-D", ROOT_DN, "-w", ROOT_PASSWORD],
            input=ldif.encode(),
            capture_output=True,
            timeout=30,
            env=dict(os.environ, LDAPTLS_CACERT=str(self.tls[0])) if self.tls else None,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{Path(tool).name} failed: {result.stderr.decode()}")

    def add(self, ldif):
        self._run(LDAPADD, ldif)

    def modify(self, ldif):
        self._run(LDAPMODIFY, ldif)

    def add_user(self, uid, password, *, given="", sn=None, mail=""):
        lines = [
            f"dn: uid={uid},ou=people,{SUFFIX}",
            "objectClass: inetOrgPerson",
            "objectClass: posixAccount",
            f"uid: {uid}",
            f"cn: {uid}",
            f"sn: {sn or uid}",
            "uidNumber: 10000",
            "gidNumber: 10000",
            f"homeDirectory: /home/{uid}",
            f"userPassword: {password}",
        ]
        if given:
            lines.append(f"givenName: {given}")
        if mail:
            lines.append(f"mail: {mail}")
        self.add("\n".join(lines) + "\n")

    def add_group(self, cn, members, gid=20000, description=""):
        lines = [f"dn: cn={cn},ou=groups,{SUFFIX}", "objectClass: posixGroup", f"cn: {cn}", f"gidNumber: {gid}"]
        lines += [f"memberUid: {uid}" for uid in members]
        if description:
            lines.append(f"description: {description}")
        self.add("\n".join(lines) + "\n")

    def add_member(self, cn, uid):
        self.modify(f"dn: cn={cn},ou=groups,{SUFFIX}\nchangetype: modify\nadd: memberUid\nmemberUid: {uid}\n")

    def remove_member(self, cn, uid):
        self.modify(f"dn: cn={cn},ou=groups,{SUFFIX}\nchangetype: modify\ndelete: memberUid\nmemberUid: {uid}\n")

    def stop(self):
        if self.process is not None:
            self.process.stop()


def make_tls_files(folder):
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key) paths."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = Path(folder)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test LDAP CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths
