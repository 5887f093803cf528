"""A Redis server: the count is the key `ticketrush:<run key>:count`; every key of the run starts with that prefix.

    read-write     GET, hold, SET <read - 1>: buyers who read the same count write the same value
    atomic         a Lua script that checks and decrements in one step (the server runs one script at a time)
    optimistic     WATCH the key, GET, hold, then MULTI / SET / EXEC: EXEC does nothing (and answers nil) if
                   another client changed the key since the WATCH, and the buyer reads again
    lock redis     SET <prefix>:lock <token> NX PX <ttl> (see workers.locks.RedisLock), released by a Lua script
                   that deletes the key only if it still holds the holder's token

Each process makes its own client after it is forked and connects at once (PING), named after the run
(`CLIENT SETNAME`), so `CLIENT LIST` shows whose it is. The client keeps that one connection for every command
(redis-py's single-connection client; WATCH, MULTI and EXEC are sent on it too, where a redis-py pipeline
would take a second connection from a pool), and never retries a command or reconnects on its own: a command
whose connection broke may have run on the server already, and running a sale twice sells a ticket twice; a
pool would also reconnect a connection the server closed while idle without a word. A connection the server
closes is the run's failure instead (StoreLost), as with PostgreSQL. `drop` deletes the run's keys.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from workers.errors import DbError
from workers.speech import Fact, fact
from workers.stores.base import ServerStore

CONNECT_TIMEOUT_S = 10

# KEYS[1]: the count. The count left after the sale, or -1 when there was none to sell.
TAKE_ONE = """
local count = tonumber(redis.call('GET', KEYS[1]))
if count and count > 0 then
    return redis.call('DECR', KEYS[1])
end
return -1
"""
# KEYS[1]: the lock, ARGV[1]: the holder's token. 1 if it was still the holder's and is now deleted, else 0.
UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisStore(ServerStore):
    kind = "redis"
    label = "the Redis key"
    server = "Redis"

    def __init__(self, run_dir: Path, url: str) -> None:
        super().__init__(run_dir, url)
        self.prefix = f"ticketrush:{self.key}"
        self.count_key = f"{self.prefix}:count"
        self.lock_key = f"{self.prefix}:lock"
        self._client: redis.Redis | None = None
        self._watching = False
        self._take_one: Any = None  # the registered scripts (redis.commands.core.Script)
        self._unlock: Any = None

    @property
    def where(self) -> str:
        try:
            parts = urlsplit(self.url)
            return parts.path if parts.scheme == "unix" else f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
        except ValueError:
            return "the URL given"

    def home(self) -> Fact:
        return fact("home.redis", name=self.count_key)

    # -- connections ------------------------------------------------------------------------------------------

    def open(self) -> None:
        if self._client is not None:
            return
        try:
            client = redis.Redis.from_url(
                self.url,
                single_connection_client=True,
                retry=Retry(NoBackoff(), 0),
                socket_connect_timeout=CONNECT_TIMEOUT_S,
                client_name=f"ticketrush-{self.key}",
            )
            client.ping()
        except (redis.ConnectionError, redis.TimeoutError, ValueError) as e:
            # redis-py says "... connecting to <host>:<port> ..." when no connection was made; anything else came
            # after the server had accepted it (it closed the connection during the handshake or the PING)
            what = "unreachable" if " connecting to " in f" {e}" else "closed"
            raise self.lost(what, e) from e
        except redis.RedisError as e:
            raise DbError(fact("db.said", source="Redis", words=str(e))) from e
        self._client = client
        self._watching = False
        self._take_one = client.register_script(TAKE_ONE)
        self._unlock = client.register_script(UNLOCK)

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(redis.RedisError, OSError):  # a connection the server closed has nothing to say
                self._client.close()
            self._client = None

    def _call(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        """`command(*args)`, with the client's errors said in the engine's terms."""
        try:
            return command(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as e:
            self.close()
            raise self.lost("closed", e) from e
        except redis.RedisError as e:
            raise DbError(fact("db.said", source="Redis", words=str(e))) from e

    def _connected(self) -> redis.Redis:
        if self._client is None:
            self.open()
        assert self._client is not None
        return self._client

    # -- the coordinator's side -------------------------------------------------------------------------------

    def create(self, tickets: int) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)  # for a file lock beside it
        client = self._connected()
        try:
            self._call(client.delete, self.lock_key)
            self._call(client.set, self.count_key, tickets)
        finally:
            self.close()

    def drop(self) -> None:
        client = self._connected()
        try:
            keys = self._call(lambda: list(client.scan_iter(match=f"{self.prefix}:*", count=100)))
            if keys:
                self._call(client.delete, *keys)
        finally:
            self.close()

    def final_count(self) -> int:
        self.open()
        try:
            return self.read()
        finally:
            self.close()

    # -- the buyers' side -------------------------------------------------------------------------------------

    def read(self) -> int:
        return _count(self._call(self._connected().get, self.count_key), self.count_key)

    def write(self, count: int) -> None:
        self._call(self._connected().set, self.count_key, count)

    def read_versioned(self) -> tuple[int, int]:
        """WATCH the count and read it: the version is the WATCH itself (see `compare_and_set`)."""
        client = self._connected()
        if self._watching:
            self._call(client.execute_command, "UNWATCH")  # an earlier read's WATCH would still count
        self._call(client.execute_command, "WATCH", self.count_key)
        self._watching = True
        return _count(self._call(client.get, self.count_key), self.count_key), 0

    def compare_and_set(self, version: int, count: int) -> bool:
        """MULTI / SET / EXEC: done only if no other client changed the count since `read_versioned`'s WATCH."""
        client = self._connected()
        self._watching = False  # EXEC ends the WATCH, whether it runs the transaction or not
        self._call(client.execute_command, "MULTI")
        self._call(client.execute_command, "SET", self.count_key, count)
        return self._call(client.execute_command, "EXEC") is not None

    def take_one(self) -> int | None:
        self._connected()
        left = int(self._call(self._take_one, keys=[self.count_key]))
        return None if left < 0 else left

    def try_lock(self, token: str, ttl_ms: int) -> bool:
        """SET the lock key to `token` if no one holds it, to expire by itself after `ttl_ms`."""
        return bool(self._call(self._connected().set, self.lock_key, token, nx=True, px=ttl_ms))

    def unlock(self, token: str) -> bool:
        """Delete the lock key if it still holds `token`; False: it had expired (and may be another's now)."""
        self._connected()
        return bool(self._call(self._unlock, keys=[self.lock_key], args=[token]))


def _count(value: bytes | None, key: str) -> int:
    if value is None:
        raise DbError(fact("db.key_gone", name=key))
    return int(value)
