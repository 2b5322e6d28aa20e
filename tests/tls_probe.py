"""One real TLS handshake on loopback: what a client sees from a server using a given context.

Shared by the tests that check which certificate a server context presents (the Security widget's
imported files, the web workers' cached contexts of onprem/gunicorn_conf.py).
"""

import socket
import ssl
import threading


def peer_certificate(server_context, client_context=None, server_hostname=None):
    """``(getpeercert(), getpeercert(binary_form=True))`` of a client that connects to a one-shot
    server wrapping with ``server_context``. The default client checks nothing (the DER is what
    the caller compares); give ``client_context`` and ``server_hostname`` to have it verify."""
    if client_context is None:
        client_context = ssl.create_default_context()
        client_context.check_hostname, client_context.verify_mode = False, ssl.CERT_NONE
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listener.accept()
        try:
            with server_context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with (
            socket.create_connection(listener.getsockname()) as raw,
            client_context.wrap_socket(raw, server_hostname=server_hostname) as tls,
        ):
            seen = tls.getpeercert(), tls.getpeercert(binary_form=True)
            tls.sendall(b"x")
    finally:
        thread.join(5)
        listener.close()
    return seen
