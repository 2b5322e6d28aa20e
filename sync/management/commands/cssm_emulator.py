"""Run the CSSM emulator (a stand-in for Cisco's cloud), or answer one request file offline.

    manage.py cssm_emulator [--host H] [--port P] [--seed FILE] [--state-dir DIR]
    manage.py cssm_emulator --process-file REQUEST.yml --output RESPONSE.yml [--state-dir DIR]
    manage.py cssm_emulator --rename-onprem UID NAME | --remove-onprem UID [--state-dir DIR]
    manage.py cssm_emulator --unregister-onprem UID | --note UID TEXT | --withdraw-note UID
    manage.py cssm_emulator --publish-agreement VERSION (--agreement-text TEXT | --agreement-file FILE)
    manage.py cssm_emulator --return-reservations UID PRODUCT_INSTANCE
    manage.py cssm_emulator --grant-third-party-key UID TAG --service NAME [--key KEY] [--key-expires DATE]
    manage.py cssm_emulator --revoke-third-party-key KEY_ID
    manage.py cssm_emulator --mark-portable UID TAG [TARGET ...]

The emulator keeps its own state in ``--state-dir`` (default ``DATA_DIR/cssm-emulator``),
never in the project's database. See docs/cssm-emulator.md.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.tls import generate_self_signed
from sync.emulator.server import BANNER, make_server
from sync.emulator.service import Emulator, EmulatorError
from sync.emulator.store import SeedError

EXAMPLE_SEED = Path(__file__).resolve().parents[2] / "emulator" / "seed-example.yml"


class Command(BaseCommand):
    help = "Run the CSSM emulator over HTTPS, or turn a request file into a response file (--process-file)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=18443)
        parser.add_argument(
            "--seed",
            help="YAML seed (smart accounts, licenses, users); applied at start. "
            "Without it an empty state gets sync/emulator/seed-example.yml.",
        )
        parser.add_argument("--state-dir", help="the emulator's own state (default DATA_DIR/cssm-emulator)")
        parser.add_argument(
            "--process-file", metavar="REQUEST.yml", help="answer this RegistrationRequest / SyncRequest file and exit"
        )
        parser.add_argument("--output", metavar="RESPONSE.yml", help="where --process-file writes the response")
        parser.add_argument(
            "--rename-onprem",
            nargs=2,
            metavar=("UID", "NAME"),
            help="rename a registered SSM On-Prem on the CSSM side and exit",
        )
        parser.add_argument("--remove-onprem", metavar="UID", help="remove a registered SSM On-Prem and exit")
        parser.add_argument(
            "--unregister-onprem",
            metavar="UID",
            help="what CSSM does after 90 days without synchronization: remove the On-Prem, answer its next "
            "synchronization 'removed', and exit",
        )
        parser.add_argument(
            "--publish-agreement",
            type=int,
            metavar="VERSION",
            help="publish a new version of the Smart Licensing Agreement (every On-Prem must accept it) and exit",
        )
        parser.add_argument("--agreement-text", help="the agreement's text (with --publish-agreement)")
        parser.add_argument(
            "--agreement-file", help="a UTF-8 file with the agreement's text (with --publish-agreement)"
        )
        parser.add_argument("--agreement-title", default="Cisco Smart Software Licensing Agreement")
        parser.add_argument(
            "--note",
            nargs=2,
            metavar=("UID", "TEXT"),
            help="send an On-Prem a Version Compatibility Note with its next responses, and exit",
        )
        parser.add_argument("--withdraw-note", metavar="UID", help="withdraw an On-Prem's Version Compatibility Note")
        parser.add_argument(
            "--return-reservations",
            nargs=2,
            metavar=("UID", "PRODUCT_INSTANCE"),
            help="return the licenses reserved for a product instance (named as the On-Prem sends it, "
            "'PID:<pid> SN:<serial>'), as CSSM does when it connects to another Smart Account, and exit",
        )
        parser.add_argument(
            "--grant-third-party-key",
            nargs=2,
            metavar=("UID", "TAG"),
            help="grant the On-Prem's Cisco virtual account a third-party key (TPL) for a license, print its "
            "key id, and exit (with --service; --key and --key-expires optional)",
        )
        parser.add_argument("--service", help="the third-party service of the key (with --grant-third-party-key)")
        parser.add_argument("--key", help="the key (default: a random one)")
        parser.add_argument("--key-expires", metavar="YYYY-MM-DD", help="the key's expiry date (default: none)")
        parser.add_argument("--revoke-third-party-key", metavar="KEY_ID", help="withdraw a third-party key, and exit")
        parser.add_argument(
            "--mark-portable",
            nargs="+",
            metavar="ARG",
            help="UID TAG [TARGET ...]: make the licenses TAG of that On-Prem's Smart Account portable to the "
            "TARGET licenses (none: no longer portable), as its next synchronization says, and exit",
        )
        parser.add_argument(
            "--grant-upgrade",
            nargs=4,
            metavar=("UID", "TAG", "REPLACES", "QUANTITY"),
            help="buy QUANTITY perpetual upgrade licenses of TAG replacing as many REPLACES licenses for that "
            "On-Prem's Cisco virtual account (Upgrade Pending on the On-Prem after its next synchronization), "
            "and exit",
        )

    def handle(self, *args, **options):
        state_dir = Path(options["state_dir"] or Path(settings.DATA_DIR) / "cssm-emulator")
        emulator = Emulator(state_dir)
        seed = options["seed"] or (EXAMPLE_SEED if emulator.store.is_empty() else None)
        if seed:
            try:
                emulator.store.apply_seed(seed)
            except SeedError as exc:
                raise CommandError(str(exc)) from exc
        if options["rename_onprem"]:
            return self._admin(emulator.store.rename_onprem, *options["rename_onprem"])
        if options["remove_onprem"]:
            return self._admin(emulator.store.remove_onprem, options["remove_onprem"])
        if options["unregister_onprem"]:
            return self._admin(emulator.store.unregister_onprem, options["unregister_onprem"])
        if options["note"]:
            uid, text = options["note"]
            return self._admin(emulator.store.set_notice, uid, "version_compatibility", text)
        if options["withdraw_note"]:
            return self._admin(emulator.store.set_notice, options["withdraw_note"], "version_compatibility", None)
        if options["grant_third_party_key"]:
            return self._grant_third_party_key(emulator, options)
        if options["revoke_third_party_key"]:
            try:
                emulator.store.revoke_third_party_key(options["revoke_third_party_key"])
            except KeyError:
                raise CommandError(f"No third-party key {options['revoke_third_party_key']}.") from None
            self.stdout.write("Done.")
            return
        if options["mark_portable"]:
            return self._mark_portable(emulator, options["mark_portable"])
        if options["grant_upgrade"]:
            return self._grant_upgrade(emulator, *options["grant_upgrade"])
        if options["publish_agreement"] is not None:
            return self._publish_agreement(emulator, options)
        if options["return_reservations"]:
            try:
                return self._admin(emulator.store.return_reservations, *options["return_reservations"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        if options["process_file"]:
            return self._process_file(emulator, options["process_file"], options["output"])
        self._serve(emulator, state_dir, options["host"], options["port"])

    def _admin(self, action, *args):
        try:
            action(*args)
        except KeyError:
            raise CommandError(f"No SSM On-Prem with UID {args[0]}.") from None
        self.stdout.write("Done.")

    def _grant_third_party_key(self, emulator, options):
        uid, tag = options["grant_third_party_key"]
        if not options["service"]:
            raise CommandError("--grant-third-party-key needs --service NAME")
        try:
            key_id = emulator.store.grant_third_party_key(
                uid, tag, options["service"], secret=options["key"], expires_on=options["key_expires"]
            )
        except KeyError:
            raise CommandError(f"No SSM On-Prem with UID {uid}.") from None
        except (ValueError, SeedError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Granted third-party key {key_id}.")

    def _mark_portable(self, emulator, args):
        if len(args) < 2:
            raise CommandError("--mark-portable needs UID TAG [TARGET ...].")
        uid, tag, *targets = args
        try:
            emulator.store.mark_portable(uid, tag, targets)
        except KeyError:
            raise CommandError(f"No SSM On-Prem with UID {uid}.") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if targets:
            self.stdout.write(f"{tag} is portable to: {', '.join(targets)}.")
        else:
            self.stdout.write(f"{tag} is not portable.")

    def _grant_upgrade(self, emulator, uid, tag, replaces, quantity):
        try:
            upgrade_id = emulator.store.grant_upgrade(uid, tag, replaces, int(quantity) if quantity.isdigit() else -1)
        except KeyError:
            raise CommandError(f"No SSM On-Prem with UID {uid}.") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Granted upgrade {upgrade_id}.")

    def _publish_agreement(self, emulator, options):
        text = options["agreement_text"]
        if options["agreement_file"]:
            try:
                text = Path(options["agreement_file"]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read {options['agreement_file']}: {exc}") from exc
        if not text:
            raise CommandError("--publish-agreement needs --agreement-text TEXT or --agreement-file FILE")
        try:
            digest = emulator.store.publish_agreement(
                options["publish_agreement"], text, title=options["agreement_title"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Published agreement version {options['publish_agreement']} (SHA-256 {digest}).")

    def _process_file(self, emulator, request_path, output):
        if not output:
            raise CommandError("--process-file needs --output RESPONSE.yml")
        try:
            data = Path(request_path).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {request_path}: {exc.strerror}") from exc
        try:
            # The operator of the emulator acts as the logged-in CSSM user: no credentials asked.
            text, name = emulator.process(data, name=Path(request_path).name, mode="manual", require_credentials=False)
        except EmulatorError as exc:
            raise CommandError(exc.message) from exc
        Path(output).write_text(text, encoding="utf-8")
        self.stdout.write(f"Wrote {output} (suggested name {name}).")

    def _serve(self, emulator, state_dir, host, port):
        cert_file, key_file = state_dir / "tls" / "server.crt", state_dir / "tls" / "server.key"
        if not cert_file.exists() or not key_file.exists():
            generate_self_signed(host if host not in ("0.0.0.0", "::") else "localhost", cert_file, key_file)
        httpd = make_server(emulator, host, port, cert_file, key_file)
        actual_port = httpd.server_address[1]
        self.stdout.write(BANNER)
        self.stdout.write(
            f"CSSM emulator listening on https://{host}:{actual_port}/ "
            f"(state {state_dir}; TLS certificate {cert_file}; root CA {state_dir / 'ca' / 'root.crt'})"
        )
        self.stdout.flush()
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            httpd.server_close()
