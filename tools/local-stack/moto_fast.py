"""moto_server for the local stack (`make dev`, the e2e suite and the benchmarks), with four
lookups made cheap and its walks made safe.

moto keeps DynamoDB in Python dicts and walks them in full where DynamoDB does not:
- transact_write_items deep-copies every table it touches (items and stream records) before
  each transaction, so it can roll back: about a second per write at 10,000 clients, and ever
  slower as the stream grows. Here only the items the transaction names are copied and put
  back if it fails, and the stream records it added are dropped again.
- a query lists and sorts every item of the table, index or not. Here a table query starts
  from its one partition, and an index query from the items whose index hash key matches;
  moto's own code then sorts, filters and pages them as before.
- Secrets Manager finds a secret by comparing its name or ARN with every secret. Here a name
  that is a key of the store is found at once.
- every request lists moto's package folder to route it. Here the list is read once.
- moto walks its live dicts (a table's items, the secrets) in Python while other requests, on
  other threads, add to them; a walk that meets a change raises and its request gets a 500.
  Here every walk (scans, index queries, secret lookups and lists) goes over a snapshot.

What each call answers is unchanged; only the work behind it. Usage: the arguments of
moto_server (`python moto_fast.py -H 127.0.0.1 -p PORT`).
"""

import copy
import sys
import threading

from moto import backends
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.secretsmanager.models import SecretsStore, get_secret_name_from_partial_arn

_local = threading.local()


class _CopyInTransaction:
    """Stands in for `copy` inside moto's DynamoDB backend: during a transaction a table is
    not copied (its items are saved one by one instead); everything else is copied as before."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        if getattr(_local, "in_transaction", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


dynamodb_models.copy = _CopyInTransaction()


def _touched(backend, transact_items):
    """(table, hash, range, saved copy or None) for every item a transaction names."""
    saved = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        key = op.get("Item") if "Item" in op else op.get("Key")
        if not key or table.hash_key_attr not in key:
            continue
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = None
        if table.range_key_attr is not None:
            if table.range_key_attr not in key:
                continue
            range_value = DynamoType(key[table.range_key_attr])
        current = table.get_item(hash_value, range_value)
        saved.append((table, hash_value, range_value, copy.deepcopy(current)))
    return saved


def _restore(saved):
    for table, hash_value, range_value, item in reversed(saved):
        if range_value is None:
            if item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item
        elif item is None:
            if hash_value in table.items:
                table.items[hash_value].pop(range_value, None)
        else:
            table.items[hash_value][range_value] = item


_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    saved = _touched(self, transact_items)
    shards = {id(t.stream_shard): t.stream_shard for t, *_ in saved if t.stream_shard}
    streams = [(shard, len(shard.items)) for shard in shards.values()]
    _local.in_transaction = True
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        _restore(saved)
        for shard, length in streams:
            del shard.items[length:]
        raise
    finally:
        _local.in_transaction = False


dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items


_query = Table.query


def _items(table):
    """Every item of `table`, from a snapshot of its partitions: moto walks the live dicts, which
    raises (a 500) when another request adds a partition or an item during the walk."""
    partitions = list(table.items.values())
    if not table.range_key_attr:
        return partitions
    return [item for partition in partitions for item in list(partition.values())]


def all_items(self):
    narrowed = getattr(_local, "narrowed", None)
    if narrowed is not None and narrowed[0] is self:
        return narrowed[1]()
    return sorted(
        _items(self), key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key
    )


def query(self, hash_key, *args, **kwargs):
    index_name = kwargs.get("index_name")
    if index_name is None and len(args) > 6:
        index_name = args[6]
    conditions = kwargs.get("hash_key_conditions")
    if index_name is None and hash_key is not None:
        # The partition alone; moto sorts it by range key itself.
        def narrowed():
            partition = self.items[hash_key] if hash_key in self.items else {}
            return list(partition.values()) if self.range_key_attr else [partition]

    elif index_name is not None and conditions:
        # The items whose index hash key matches (and range key, when one condition is on it);
        # moto checks, sorts and pages them itself. Raw type and value are compared, as
        # DynamoType's own comparison is slow.
        wanted = [(name, value.type, value.value) for name, value in conditions]
        ranges = kwargs.get("range_key_conditions") or []
        on_range = _range_test(ranges[0]) if len(ranges) == 1 else None

        def narrowed():
            found = []
            for item in _items(self):
                attrs = item.attrs
                matches = True
                for name, kind, value in wanted:
                    got = attrs.get(name)
                    if got is None or got.type != kind or got.value != value:
                        matches = False
                        break
                if matches and (on_range is None or on_range(attrs)):
                    found.append(item)
            return found

    else:
        return _query(self, hash_key, *args, **kwargs)
    previous = getattr(_local, "narrowed", None)
    _local.narrowed = (self, narrowed)
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        _local.narrowed = previous


def _range_test(condition):
    """A quick test of one range key condition on an item's attributes: numbers compared as
    numbers for the usual operators, anything else by moto's own comparison."""
    name, comparison, values = condition
    numeric = all(v.type == "N" for v in values)
    if numeric and comparison in ("<", "<=", ">", ">=", "=") and len(values) == 1:
        bound = float(values[0].value)
        test = {
            "<": lambda x: x < bound,
            "<=": lambda x: x <= bound,
            ">": lambda x: x > bound,
            ">=": lambda x: x >= bound,
            "=": lambda x: x == bound,
        }[comparison]

        def quick(attrs):
            got = attrs.get(name)
            return got is not None and got.type == "N" and test(float(got.value))

        return quick

    def slow(attrs):
        got = attrs.get(name)
        return got is not None and got.compare(comparison, values)

    return slow


def has_idx_items(self, index_name):
    columns = {key["AttributeName"] for key in self.get_index(index_name).schema}
    return [item for item in _items(self) if columns.issubset(item.attrs)]


Table.all_items = all_items
Table.has_idx_items = has_idx_items
Table.query = query


def _find(store, key):
    """The secret `key` names (its name, ARN or partial ARN), or None. moto compares `key` with
    every secret of the live dict, which raises when another request adds or deletes a secret
    meanwhile; here a name is found at once and the rest compared over a snapshot."""
    if dict.__contains__(store, key):
        return dict.__getitem__(store, key)
    for secret in list(dict.values(store)):
        if secret.arn == key or secret.name == key:
            return secret
    return dict.get(store, get_secret_name_from_partial_arn(key))


def _getitem(self, key):
    found = _find(self, key)
    if found is None:
        raise KeyError(key)
    return found


def _get(self, key, default=None):
    found = _find(self, key)
    return default if found is None else found


def _pop(self, key, *_):
    found = _find(self, key)
    name = found.name if found is not None else get_secret_name_from_partial_arn(key)
    return dict.pop(self, name, None)


SecretsStore.__getitem__ = _getitem
SecretsStore.get = _get
SecretsStore.__contains__ = lambda self, key: _find(self, key) is not None
SecretsStore.pop = _pop
# list_secrets and batch reads walk `values()`: a snapshot, for the same reason.
SecretsStore.values = lambda self: list(dict.values(self))


_MODULES = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _MODULES


if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
