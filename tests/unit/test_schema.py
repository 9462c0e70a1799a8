"""Schema versioning: steps run once, in order, and a newer schema is refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pypicloud.schema import current_version, migrate


def test_steps_run_once_in_order(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    ran: list[int] = []
    steps = [lambda conn: ran.append(1), lambda conn: ran.append(2)]
    assert migrate(engine, "thing", steps) == 2
    assert migrate(engine, "thing", steps) == 2
    assert ran == [1, 2]
    steps.append(lambda conn: conn.execute(sa.text("CREATE TABLE added (x INTEGER)")))
    assert migrate(engine, "thing", steps) == 3
    assert current_version(engine, "thing") == 3
    assert current_version(engine, "other") == 0


def test_a_failed_step_is_not_recorded(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")

    def broken(conn):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        migrate(engine, "thing", [broken])
    assert current_version(engine, "thing") == 0


def test_a_newer_schema_is_refused(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    migrate(engine, "thing", [lambda conn: None, lambda conn: None])
    with pytest.raises(RuntimeError, match="newer than this release"):
        migrate(engine, "thing", [lambda conn: None])
