"""DATABASE_URL as pg_auto_failover prints it (``pg_autoctl show uri --formation default``): a
multi-host URL that onprem/settings.py turns into libpq's host and port lists (core/env.py)."""

import socket

import pytest

from core.env import MULTI_HOST_OPTIONS, database_config

FORMATION = "postgres://postgres@10.0.0.11:5432,10.0.0.12:6432/onprem?target_session_attrs=read-write&sslmode=require"


def test_a_formation_uri_gives_host_and_port_lists_and_keeps_its_options():
    config = database_config(FORMATION, conn_max_age=60)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "10.0.0.11,10.0.0.12",
        "5432,6432",
        "onprem",
        "postgres",
    )
    assert config["OPTIONS"]["target_session_attrs"] == "read-write"
    assert config["OPTIONS"]["sslmode"] == "require"
    assert config["OPTIONS"]["connect_timeout"] == MULTI_HOST_OPTIONS["connect_timeout"]
    assert config["CONN_MAX_AGE"] == 60


def test_the_url_options_win_over_the_multi_host_defaults_and_ports_default_to_5432():
    config = database_config(
        "postgresql://u:p%40ss@db-a,[fd00::2]:5433/onprem?connect_timeout=2&target_session_attrs=read-write",
        conn_max_age=0,
    )
    assert config["HOST"] == "db-a,fd00::2" and config["PORT"] == "5432,5433"
    assert config["PASSWORD"] == "p@ss"
    assert config["OPTIONS"]["connect_timeout"] == 2


def test_single_host_and_sqlite_urls_are_read_as_before():
    single = database_config("postgres://postgres@127.0.0.1:5432/onprem", conn_max_age=60)
    assert (
        single["HOST"] == "127.0.0.1" and single["PORT"] == 5432 and "connect_timeout" not in single.get("OPTIONS", {})
    )
    assert database_config("sqlite:////tmp/x.sqlite3", conn_max_age=0)["NAME"] == "/tmp/x.sqlite3"


def test_a_host_list_with_a_bad_port_is_refused():
    with pytest.raises(ValueError, match="host:port"):
        database_config("postgres://postgres@a:5432,b:nope/onprem", conn_max_age=0)


def test_django_connects_through_a_host_list_whose_first_host_is_down():
    """Django's PostgreSQL backend hands the lists to libpq, which skips the dead host: the machine's
    PostgreSQL (5432) second, a closed port first."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 5432)) != 0:
            pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]  # bound, never listening: connections are refused
        from django.db.backends.postgresql.base import DatabaseWrapper

        config = database_config(
            f"postgres://postgres@127.0.0.1:{dead},127.0.0.1:5432/postgres?target_session_attrs=read-write",
            conn_max_age=0,
        )
        config.update(TIME_ZONE=None, ATOMIC_REQUESTS=False, AUTOCOMMIT=True, CONN_HEALTH_CHECKS=False, TEST={})
        wrapper = DatabaseWrapper(config, alias="multi_host_probe")
        # The backend's own connection parameters and connect call (not the test database's blocker).
        connection = wrapper.get_new_connection(wrapper.get_connection_params())
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT inet_server_port(), pg_is_in_recovery()")
                assert cursor.fetchone() == (5432, False)
        finally:
            connection.close()
