"""``python -m smart_agent``: the agent's command line.

    python -m smart_agent --server https://onprem:8443 --state-dir /var/lib/agent --ca-file ca.pem \\
        --pid C9300-24T --serial FOC2412X0AB register --token TOKEN
    python -m smart_agent --state-dir /var/lib/agent authorize 'regid.2017-03.com.cisco.NE,1.0_x=1'

Exit codes: 0 done; 1 the server answered FAILED (error_code and message are printed); 2 bad
command line; 3 not registered or unusable state directory; 4 the server could not be reached
or answered with an HTTP error or stayed busy; 5 the reply was unsigned or did not verify.
"""

import argparse
import json
import os
import sys
from collections.abc import Sequence

from cryptography import x509

from . import crypto
from .agent import Agent
from .errors import ChainError, Failed, InvalidReply, NotRegistered, StateError, TransportError
from .identity import Identity, normalize_mac
from .state import THIRD_PARTY_KEYS
from .transport import RetryPolicy

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STATE, EXIT_TRANSPORT, EXIT_INVALID = 0, 1, 2, 3, 4, 5
IDENTITY_OPTIONS = {  # option -> Identity field
    "pid": "udi_pid",
    "serial": "udi_serial_number",
    "vid": "udi_vid",
    "uuid": "uuid",
    "suvi": "suvi",
    "host_identifier": "host_identifier",
    "mac": "mac_address",
    "hostname": "hostname",
    "ip": "ip_address",
    "product_name": "product_name",
    "product_type": "product_type",
    "software_tag": "software_tag",
    "software_version": "software_version",
}


def tag_count(text):
    """``TAG=COUNT``; the tag itself may contain ``=`` (split at the last one)."""
    tag, sep, count = text.rpartition("=")
    if not sep or not tag or not count.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not TAG=COUNT (COUNT a whole number).")
    return tag, int(count)


def mac(text):
    try:
        return normalize_mac(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m smart_agent", description="Reference Smart Licensing device agent."
    )
    parser.add_argument("--server", help="server URL, e.g. https://onprem.example:8443 (kept after register)")
    parser.add_argument(
        "--state-dir",
        default=os.environ.get("SMART_AGENT_STATE_DIR"),
        help="directory for the key, certificates and state (env SMART_AGENT_STATE_DIR)",
    )
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--ca-file", help="PEM CA bundle that signed the server's TLS certificate")
    tls.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    parser.add_argument(
        "--trust-anchor",
        help="PEM CA certificate(s) the signing chain must end in (default: trust the chain received at registration)",
    )
    parser.add_argument(
        "--legacy", action="store_true", help="use /Transportgateway/services/DeviceRequestHandler with the XML wrapper"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP exchange (default 30)")
    parser.add_argument("--retries", type=int, default=5, help="retries after HTTP 429/503 (default 5)")
    parser.add_argument("--json", action="store_true", help="print the reply payload / status as JSON")
    ident = parser.add_argument_group("device identity (stored at register; later read from the state dir)")
    ident.add_argument("--pid", help="UDI product id, e.g. C9300-24T")
    ident.add_argument("--serial", help="UDI serial number, e.g. FOC2412X0AB")
    ident.add_argument("--vid", help="UDI version id, e.g. V02")
    ident.add_argument("--uuid")
    ident.add_argument("--suvi")
    ident.add_argument("--host-identifier")
    ident.add_argument("--mac", type=mac, help="MAC address")
    ident.add_argument("--hostname")
    ident.add_argument("--ip", help="IP address")
    ident.add_argument("--product-name")
    ident.add_argument("--product-type")
    ident.add_argument("--software-tag", help="default: regid.2014-05.com.cisco.<PID>,1.0_<uuid>")
    ident.add_argument("--software-version")

    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register = commands.add_parser("register", help="register with a registration token")
    register.add_argument("--token", required=True)
    register.add_argument("--force", action="store_true", help="move the device to the token's virtual account")
    renew = commands.add_parser("renew-id", help="renew the ID certificate")
    renew.add_argument("--rotate-key", action="store_true", help="renew for a new key pair")
    authorize = commands.add_parser("authorize", help="request licenses: the complete set in use (TAG=0 releases)")
    authorize.add_argument("entitlements", nargs="+", type=tag_count, metavar="TAG=COUNT")
    authorize.add_argument("--app-role", choices=("ACTIVE", "STANDBY"), help="application redundancy role")
    authorize.add_argument("--app-id", help="this device's application id (with --app-role)")
    authorize.add_argument("--app-name", default="", help="application name (with --app-role)")
    authorize.add_argument(
        "--peer", action="append", default=[], metavar="ID:ROLE[:PI_ID[:NAME]]", help="a redundancy peer (repeatable)"
    )
    report = commands.add_parser("report", help="send a usage (RUM) report")
    report.add_argument(
        "usage",
        nargs="*",
        type=tag_count,
        metavar="TAG=COUNT",
        help="usage to report (default: the authorized licenses)",
    )
    commands.add_parser("deregister", help="release the licenses and remove the registration")
    forget = commands.add_parser("forget", help="drop the local registration without asking the server")
    forget.add_argument("--yes", action="store_true", required=True)
    poll = commands.add_parser("poll", help="poll a pending request (default: every pending one)")
    poll.add_argument("poll_id", nargs="?")
    commands.add_parser("status", help="show what this device knows locally (no network)")
    tpl = commands.add_parser(
        "third-party-keys",
        help="get the third-party keys (TPL) of this device's virtual account; saved to third_party_keys.json",
    )
    tpl.add_argument("tags", nargs="*", metavar="TAG", help="only the keys of these licenses (default: all)")
    return parser


def identity_from(args):
    given = {field: getattr(args, opt) for opt, field in IDENTITY_OPTIONS.items() if getattr(args, opt)}
    if not given:
        return None
    if not given.get("udi_pid") or not given.get("udi_serial_number"):
        raise ValueError("The device identity needs both --pid and --serial.")
    return Identity(**given)


def redundancy_from(args):
    if not args.app_role:
        if args.peer or args.app_id:
            raise ValueError("--app-id and --peer need --app-role.")
        return None
    if not args.app_id:
        raise ValueError("--app-role needs --app-id.")
    peers = []
    for text in args.peer:
        parts = text.split(":", 3)
        if len(parts) < 2 or not parts[0] or parts[1] not in ("ACTIVE", "STANDBY"):
            raise ValueError(f"--peer {text!r} is not ID:ROLE[:PI_ID[:NAME]] with ROLE ACTIVE or STANDBY.")
        parts += [""] * (4 - len(parts))
        peers.append({"name": parts[3], "role": parts[1], "id": parts[0], "product_instance_identifier": parts[2]})
    return {"application_name": args.app_name, "app_role": args.app_role, "app_id": args.app_id, "peers": peers}


def make_agent(args):
    anchors: Sequence[x509.Certificate] = ()
    if args.trust_anchor:
        with open(args.trust_anchor) as handle:
            anchors = [crypto.load_cert(pem) for pem in crypto.split_pem(handle.read())]
        if not anchors:
            raise StateError(f"{args.trust_anchor} holds no PEM certificate.")
    return Agent(
        args.server,
        args.state_dir,
        identity_from(args),
        ca_file=args.ca_file,
        insecure=args.insecure,
        legacy=args.legacy,
        timeout=args.timeout,
        retry=RetryPolicy(max_retries=args.retries),
        trust_anchors=anchors,
    )


def _print(args, payload, lines):
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True))
    else:
        for line in lines:
            print(line)


def run(args):
    agent = make_agent(args)
    command = args.command
    if command == "status":
        status = agent.status()
        lines = [f"{k}: {json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in status.items()]
        _print(args, status, lines)
        return EXIT_OK if status["registered"] else EXIT_STATE
    if command == "register":
        payload = agent.register(args.token, force=args.force)
        _print(
            args,
            payload,
            [
                f"Registered: product instance {payload['product_instance_id']} in virtual "
                f"account {payload.get('virtual_account', '?')}; certificate "
                f"{agent.state['certificate_serial']} (renew after {agent.status()['renew_id_after']})."
            ],
        )
    elif command == "renew-id":
        payload = agent.renew_id(rotate_key=args.rotate_key)
        _print(
            args,
            payload,
            [
                f"Renewed: certificate {agent.state['certificate_serial']} valid until "
                f"{agent.state['certificate_expires']}."
            ],
        )
    elif command == "authorize":
        payload = agent.authorize(args.entitlements, app_redundancy=redundancy_from(args))
        lines = [
            f"{a.get('status')}: {a.get('tag')} x{a.get('count')}" + (f" ({a['reason']})" if a.get("reason") else "")
            for a in payload.get("authorizations", [])
        ]
        _print(args, payload, lines + [f"Compliance: {payload.get('compliance')}"])
    elif command == "report":
        payload = agent.report(dict(args.usage) if args.usage else None)
        acks = payload.get("acks") or []
        _print(
            args,
            payload,
            [f"{a.get('status')}: report {a.get('report_id')}" for a in acks]
            or [f"Report sent: {payload.get('status')}"],
        )
    elif command == "deregister":
        payload = agent.deregister()
        released = ", ".join(f"{r.get('tag')} x{r.get('count')}" for r in payload.get("released", [])) or "none"
        _print(args, payload, [f"Deregistered; licenses released: {released}."])
    elif command == "third-party-keys":
        payload = agent.third_party_keys(args.tags)
        # The keys themselves only in the state directory's file (and with --json), not on the screen.
        lines = [
            f"{k.get('service')}: key {k.get('key_id')} for {k.get('tag')}"
            + (f", expires {k['expires_on']}" if k.get("expires_on") else "")
            for k in payload["third_party_keys"]
        ]
        _print(args, payload, lines + [f"Saved to {THIRD_PARTY_KEYS} in the state directory."])
    elif command == "forget":
        agent.forget()
        _print(args, {"forgotten": True}, ["The local registration is removed."])
    elif command == "poll":
        if args.poll_id is None and not agent.state.get("pending_polls"):
            _print(args, {}, ["Nothing pending."])
            return EXIT_OK
        results = agent.poll(args.poll_id)
        _print(
            args,
            results,
            [
                f"{pid}: {p.get('status')} {p.get('result') or ''} {p.get('message') or ''}".rstrip()
                for pid, p in results.items()
            ],
        )
    return EXIT_OK


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.state_dir:
        parser.error("--state-dir (or SMART_AGENT_STATE_DIR) is required")
    try:
        return run(args)
    except Failed as exc:
        advisory = "" if exc.verified else " (reply not signed by this device's chain: advisory)"
        print(f"error: {exc.message_type} FAILED: {exc.error_code}: {exc.message}{advisory}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:
        if isinstance(exc, (InvalidReply, ChainError)):
            print(f"error: invalid reply: {exc}", file=sys.stderr)
            return EXIT_INVALID
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (NotRegistered, StateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STATE
    except TransportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TRANSPORT
    except (InvalidReply, ChainError) as exc:
        print(f"error: invalid reply: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STATE
