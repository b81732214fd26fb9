"""eventsourcing interop (ARCHITECTURE.md decision 4), proven by the library's own tests.

The recorder and factory test cases shipped in ``eventsourcing.tests.persistence``
run here against the embedded server, on recorders built by
``ledger.eventsourcing_persistence`` from a ``DATABASE_URL`` (the unix-socket form the
embedded server gives). They mirror the library's tests/persistence_tests/test_postgres.py:
each test starts on an empty schema, as the library's ``drop_tables()`` arranges.

The base cases are reached through the module (``es_tests.X``) so that pytest does not
collect the abstract classes themselves.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar
from unittest import TestCase

import eventsourcing.postgres as es_postgres
import eventsourcing.tests.persistence as es_tests
import psycopg
import pytest
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.utils import Environment

from ledger.eventsourcing_persistence import TTLedgerFactory, parse_database_url

MODULE = "ledger.eventsourcing_persistence"
APP = "TestCase"


@pytest.fixture(autouse=True, scope="class")
def _bind_dsn(request: pytest.FixtureRequest, module_dsn: str) -> None:
    """unittest classes take no fixtures: hand them the module's database on the class."""
    if request.cls is not None:
        request.cls.dsn = module_dsn


def _empty_schema(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


class _OnLedgerDatabase(TestCase):
    """Empty schema, and an environment naming this module and the module's database."""

    dsn: ClassVar[str] = ""
    env: Environment

    def setUp(self) -> None:
        assert self.dsn, "the _bind_dsn fixture did not run"
        _empty_schema(self.dsn)
        self.env = Environment(APP, {"PERSISTENCE_MODULE": MODULE, "DATABASE_URL": self.dsn})
        super().setUp()


class _WithFactory(_OnLedgerDatabase):
    """The factory the library itself would construct from the environment."""

    def setUp(self) -> None:
        super().setUp()
        self.factory = InfrastructureFactory.construct(self.env)
        assert isinstance(self.factory, TTLedgerFactory)
        self.addCleanup(self.factory.close)


# --- the library's recorder test cases ---------------------------------------------


class TestAggregateRecorder(_WithFactory, es_tests.AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.factory.aggregate_recorder()


class TestApplicationRecorder(_WithFactory, es_tests.ApplicationRecorderTestCase):
    def create_recorder(self) -> ApplicationRecorder:
        return self.factory.application_recorder()

    def test_insert_subscribe(self) -> None:
        # Optional in the base case; the library's postgres tests run it.
        self.optional_test_insert_subscribe()


class TestTrackingRecorder(_WithFactory, es_tests.TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return self.factory.tracking_recorder()


class TestProcessRecorder(_WithFactory, es_tests.ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()


class TestNonInterleavingNotificationIDs(
    _WithFactory, es_tests.NonInterleavingNotificationIDsBaseCase
):
    # The library runs 100 per stack on postgres; the base default (1000) is stricter.
    def create_recorder(self) -> ApplicationRecorder:
        return self.factory.application_recorder()


class TestInfrastructureFactory(
    _OnLedgerDatabase, es_tests.InfrastructureFactoryTestCase[TTLedgerFactory]
):
    class TrackingRecorderSubclass(es_postgres.PostgresTrackingRecorder):
        pass

    def expected_factory_class(self) -> type[TTLedgerFactory]:
        return TTLedgerFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return es_postgres.PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return es_postgres.PostgresApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return es_postgres.PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return self.TrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return es_postgres.PostgresProcessRecorder


# --- an eventsourcing application on the ledger's database ---------------------------


class Dog(Aggregate):
    @event("Registered")
    def __init__(self, name: str) -> None:
        self.name = name
        self.tricks: list[str] = []

    @event("TrickAdded")
    def add_trick(self, trick: str) -> None:
        self.tricks.append(trick)


class Kennel(Application[uuid.UUID]):
    pass


class Shelter(Application[uuid.UUID]):
    pass


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def _app_env(dsn: str) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": MODULE, "DATABASE_URL": dsn}


def test_application_saves_and_reloads_and_names_its_tables(module_dsn: str) -> None:
    kennel = Kennel(env=_app_env(module_dsn))
    assert isinstance(kennel.factory, TTLedgerFactory)
    dog = Dog("Fido")
    dog.add_trick("roll over")
    kennel.save(dog)
    kennel.close()

    kennel = Kennel(env=_app_env(module_dsn))  # a new pool: the events come from the database
    try:
        copy = kennel.repository.get(dog.id)
        assert (copy.name, copy.tricks, copy.version) == ("Fido", ["roll over"], 2)
    finally:
        kennel.close()

    shelter = Shelter(env=_app_env(module_dsn))
    try:
        with pytest.raises(AggregateNotFoundError):
            shelter.repository.get(dog.id)
        assert shelter.notification_log.select(start=1, limit=10) == []
    finally:
        shelter.close()
    assert {"kennel_events", "shelter_events"} <= _tables(module_dsn)


class TrickLog(Projection[es_postgres.PostgresTrackingRecorder]):
    """Records only its position: enough to show the runner follows the application."""

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)


def test_projection_runner_follows_an_application(module_dsn: str) -> None:
    env = _app_env(module_dsn)
    with ProjectionRunner(
        application_class=Kennel,
        projection_class=TrickLog,
        view_class=es_postgres.PostgresTrackingRecorder,
        env=env,
    ) as runner:
        dog = Dog("Rex")
        dog.add_trick("sit")
        last = runner.app.save(dog)[-1].notification.id
        runner.wait(last, timeout=10)
        assert runner.view.max_tracking_id("Kennel") == last
    assert "tricklog_tracking" in _tables(module_dsn)


# --- configuration ------------------------------------------------------------------


def test_parse_tcp_url_with_libpq_options() -> None:
    parsed = parse_database_url(
        "postgresql://alice:s3cret@db.example.com:6543/ledger?sslmode=require&application_name=tt"
    )
    assert parsed.settings == {
        "POSTGRES_DBNAME": "ledger",
        "POSTGRES_HOST": "db.example.com",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "alice",
        "POSTGRES_PASSWORD": "s3cret",
    }
    assert parsed.libpq_options == {"sslmode": "require", "application_name": "tt"}


def test_parse_unix_socket_url() -> None:
    parsed = parse_database_url("postgresql://postgres:@/ttledger?host=/run/pg%20sock")
    assert parsed.settings == {
        "POSTGRES_DBNAME": "ttledger",
        "POSTGRES_HOST": "/run/pg sock",
        "POSTGRES_PORT": "5432",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "",
    }
    assert parsed.libpq_options == {}
    encoded = parse_database_url("postgresql://u@%2Frun%2FPg/db").settings  # libpq's other form
    assert encoded["POSTGRES_HOST"] == "/run/Pg"
    assert parse_database_url("postgres:///db?host=/s&port=5433").settings["POSTGRES_PORT"] == (
        "5433"
    )


def test_parse_percent_encoded_parts() -> None:
    parsed = parse_database_url("postgresql://b%C3%B6b:p%40ss%3Aw%2Fo%25rd@[::1]/my%20db")
    assert parsed.settings["POSTGRES_USER"] == "böb"
    assert parsed.settings["POSTGRES_PASSWORD"] == "p@ss:w/o%rd"
    assert parsed.settings["POSTGRES_HOST"] == "::1"
    assert parsed.settings["POSTGRES_DBNAME"] == "my db"
    # In the query too, and "+" is not a space to libpq.
    parsed = parse_database_url("postgresql:///db?host=/s&user=u&password=a+b%26c%3D")
    assert parsed.settings["POSTGRES_PASSWORD"] == "a+b&c="


@pytest.mark.parametrize(
    "url",
    ["mysql://u:hunter2@h/db", "postgresql://u:hunter2@h:port/db", "postgresql://u:hunter2@a,b/db"],
)
def test_bad_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_database_url(url)
    assert "hunter2" not in str(excinfo.value)


def test_explicit_postgres_settings_win_and_options_reach_libpq(module_dsn: str) -> None:
    env = Environment(
        "Kennel",
        {
            "KENNEL_DATABASE_URL": module_dsn + "&application_name=ttledger-test",
            "POSTGRES_DBNAME": "elsewhere",
        },
    )
    factory = TTLedgerFactory(env)
    try:
        kwargs = factory.datastore.pool.kwargs
        assert isinstance(kwargs, dict)
        assert kwargs["dbname"] == "elsewhere"
        assert kwargs["host"] == parse_database_url(module_dsn).settings["POSTGRES_HOST"]
        assert kwargs["application_name"] == "ttledger-test"
        assert factory.env is env and "POSTGRES_HOST" not in env  # caller's env untouched
    finally:
        factory.close()


@pytest.fixture
def no_database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No DATABASE_URL anywhere (environment or .env) and a private embedded data dir."""
    for key in list(os.environ):
        if key.endswith("DATABASE_URL") or key.startswith("POSTGRES_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("TTLEDGER_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path


def test_embedded_server_by_default(no_database_url: Path) -> None:
    kennel = Kennel(env={"PERSISTENCE_MODULE": MODULE, "POSTGRES_DBNAME": "es_default"})
    factory = kennel.factory
    assert isinstance(factory, TTLedgerFactory)
    assert factory.embedded is not None
    try:
        dog = Dog("Laika")
        kennel.save(dog)
        assert kennel.repository.get(dog.id).name == "Laika"
        kwargs = factory.datastore.pool.kwargs
        assert isinstance(kwargs, dict)
        assert kwargs["dbname"] == "es_default"
        assert kwargs["host"] == str(factory.embedded.socket_dir)
    finally:
        kennel.close()
        factory.embedded.stop()  # close() leaves the server to other users of this process


async def test_embedded_database_is_created_under_a_running_event_loop(
    no_database_url: Path,
) -> None:
    factory = TTLedgerFactory({"POSTGRES_DBNAME": "es_async"})  # asyncio.run would refuse
    try:
        assert factory.embedded is not None
        assert factory.application_recorder().max_notification_id() is None
    finally:
        factory.close()
        factory.embedded.stop()
