"""The set of stores a workspace's stages stand on, and the one made over SQL.

A workspace is embedded (SQL database and object store on this machine: :class:`SqlStores`) or a
client of a team server (:class:`flywheel_ml.backends.rest.RestStores`). Both give the same
store Protocols, so the stages, the CLI and the SDK run unchanged on either.

:data:`STORE_PROTOCOLS` names each store as the REST API does (``/api/v1/stores/{name}/...``);
the server and the client both build from it, so the two cannot disagree on what a store offers.
"""

from __future__ import annotations

import importlib
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from flywheel_ml.backends.blobs import FsspecObjectStore, LocalObjectStore
    from flywheel_ml.backends.packs import PackedObjectStore
    from flywheel_ml.backends.sql.database import Database
    from flywheel_ml.config import Settings
    from flywheel_ml.core.objects import ObjectStore
    from flywheel_ml.data.store import DataObjects

# Named, not imported: a command that touches one stage must not import every stage's entities.
STORE_PROTOCOLS: dict[str, str] = {
    "plan": "flywheel_ml.plan.store:PlanStore",
    "data": "flywheel_ml.data.store:DataStore",
    "label": "flywheel_ml.label.store:LabelStore",
    "track": "flywheel_ml.track.store:TrackStore",
    "tune": "flywheel_ml.tune.store:TuneStore",
    "registry": "flywheel_ml.registry.store:RegistryStore",
    "serve": "flywheel_ml.serve.store:DeploymentStore",
    "monitor": "flywheel_ml.monitor.store:MonitorStore",
    "events": "flywheel_ml.core.events:EventLog",
}
"""Every store by its API name, with the Protocol it implements (``module:Class``)."""

CALLBACK_PARAMETERS: dict[tuple[str, str], str] = {
    ("plan", "update_page"): "change",
    ("registry", "add_version"): "make",
    ("label", "add_guide"): "make",
    ("serve", "apply_move"): "change",
}
"""Store methods that take a function run inside their write transaction, and its parameter."""


def store_protocol(name: str) -> type[Any]:
    """The Protocol class of the store named ``name``.

    Raises:
        KeyError: no store has that name.
    """
    return _class_named(STORE_PROTOCOLS[name])


class Stores(Protocol):
    """What the stages of one workspace are built on."""

    @property
    def objects(self) -> ObjectStore:
        """Bytes by content: artifacts, models, documents."""
        ...

    @property
    def data_objects(self) -> DataObjects:
        """The object store for dataset items (batch writes, exports)."""
        ...

    def store(self, name: str) -> Any:
        """The store named ``name`` in :data:`STORE_PROTOCOLS` (one instance per set)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def open_sql_stores(settings: Settings) -> SqlStores:
    """The SQL database (migrated to this Flywheel's schema) and object store of ``settings``.

    Raises:
        StoreUnavailableError: the database cannot be reached.
        SchemaTooNewError: the database belongs to a newer Flywheel.
    """
    from flywheel_ml.backends.blobs import open_object_store
    from flywheel_ml.backends.sql.database import open_database
    from flywheel_ml.backends.sql.migrate import ensure_schema

    database = open_database(settings.db_url)
    try:
        lock = settings.state_dir / "migrate.lock" if database.is_sqlite else None
        ensure_schema(database, lock_path=lock)
        database.count_changes = True
        objects = open_object_store(settings.blob_url)
    except BaseException:
        database.dispose()
        raise
    return SqlStores(database, objects)


class SqlStores:
    """The stores of an embedded or server-side workspace: one SQL database, one object store."""

    def __init__(self, database: Database, objects: LocalObjectStore | FsspecObjectStore) -> None:
        self.database = database
        self.objects = objects
        self._stores: dict[str, Any] = {}

    @cached_property
    def data_objects(self) -> PackedObjectStore:
        """The object store with small batch-written objects in packs (index in the database)."""
        from flywheel_ml.backends.packs import PackedObjectStore
        from flywheel_ml.backends.sql.pack_store import SqlPackIndex

        return PackedObjectStore(self.objects, SqlPackIndex(self.database))

    def store(self, name: str) -> Any:
        """The SQL store named ``name`` (see :data:`STORE_PROTOCOLS`).

        Raises:
            KeyError: no store has that name.
        """
        found = self._stores.get(name)
        if found is None:
            found = self._stores[name] = _class_named(_SQL_STORES[name])(self.database)
        return found

    def close(self) -> None:
        """Release the database's pooled connections."""
        self.database.dispose()

    def __repr__(self) -> str:
        return f"SqlStores(db={self.database.url!r})"


# Imported on first use: a command that touches one store does not import the others.
_SQL_STORES: dict[str, str] = {
    "plan": "flywheel_ml.backends.sql.plan_store:SqlPlanStore",
    "data": "flywheel_ml.backends.sql.data_store:SqlDataStore",
    "label": "flywheel_ml.backends.sql.label_store:SqlLabelStore",
    "track": "flywheel_ml.backends.sql.track_store:SqlTrackStore",
    "tune": "flywheel_ml.backends.sql.tune_store:SqlTuneStore",
    "registry": "flywheel_ml.backends.sql.registry_store:SqlRegistryStore",
    "serve": "flywheel_ml.backends.sql.serve_store:SqlDeploymentStore",
    "monitor": "flywheel_ml.backends.sql.monitor_store:SqlMonitorStore",
    "events": "flywheel_ml.backends.sql.event_store:SqlEventLog",
}


def _class_named(spec: str) -> type[Any]:
    module, _, name = spec.partition(":")
    found: type[Any] = getattr(importlib.import_module(module), name)
    return found
