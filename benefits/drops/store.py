"""The fast half of the claim decision: one Lua script per claim in Redis.

Per drop two keys, both named with the drop's random key as a hash tag so that on a Redis Cluster
they sit in one slot (a script may only touch keys of one slot):

    drops:{<key>}:left      tickets still free (an integer)
    drops:{<key>}:holders   hash member id -> tickets held

`claim` runs CLAIM_LUA: missing state → -3 (reload from the database), holds the limit → -1,
nothing left → -2, else decrement, count the member, and return the member's count (>= 1).
Scripts are registered with redis-py's `register_script`: it calls EVALSHA and, when Redis
answers NOSCRIPT (restarted, SCRIPT FLUSH), loads the script and runs it again.

Redis only decides who may try; the database write (services._db_take_after_redis) is the
authority. Lost keys are rebuilt from the database (`load`), once, under a short lock; a request
that cannot get Redis at all falls back to the database path, which is correct on its own.
With no DROPS_REDIS_URL (embedded) `enabled()` is False and only the database path runs."""

import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

CLAIM_LUA = """
local left = redis.call('GET', KEYS[1])
if not left then return -3 end
local have = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if have >= tonumber(ARGV[2]) then return -1 end
if tonumber(left) <= 0 then return -2 end
redis.call('DECR', KEYS[1])
return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
"""

# Correct one claim: ARGV[2] = '1' takes one off the member's count; ARGV[3] = 'back' puts the
# ticket back in the pool, 'none' sets the pool to 0 (the database said it is sold out).
RELEASE_LUA = """
if not redis.call('GET', KEYS[1]) then return 0 end
if ARGV[2] == '1' then
  local have = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
  if have <= 0 then return 0 end
  if have == 1 then redis.call('HDEL', KEYS[2], ARGV[1]) else redis.call('HINCRBY', KEYS[2], ARGV[1], -1) end
end
if ARGV[3] == 'back' then redis.call('INCR', KEYS[1]) elseif ARGV[3] == 'none' then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
return 1
"""

# Put the database's state in: ARGV = mode, left, ttl, member, count, ... Mode 'missing' loads
# only while the drop has no state (a second reload after claims resumed would forget them);
# 'replace' (reconciliation's repair) overwrites.
LOAD_LUA = """
if ARGV[1] == 'missing' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
if #ARGV > 3 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
return 1
"""

# The lean endpoint's script (benefits/drops/fast.py): CLAIM_LUA with the per-member and per-IP
# throttles in front, in the same round trip. KEYS: left, holders, member counter, IP counter (all
# tagged with the drop's key: one slot). ARGV: member, limit, member max, IP max, window seconds,
# count ('1' on the first attempt; '0' when retried after a reload, so a press counts once).
GRAB_LUA = """
if ARGV[6] == '1' then
  local m = redis.call('INCR', KEYS[3])
  if m == 1 then redis.call('EXPIRE', KEYS[3], ARGV[5]) end
  local i = redis.call('INCR', KEYS[4])
  if i == 1 then redis.call('EXPIRE', KEYS[4], ARGV[5]) end
  if m > tonumber(ARGV[3]) or i > tonumber(ARGV[4]) then return -4 end
end
local left = redis.call('GET', KEYS[1])
if not left then return -3 end
local have = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if have >= tonumber(ARGV[2]) then return -1 end
if tonumber(left) <= 0 then return -2 end
redis.call('DECR', KEYS[1])
return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
"""

DUPLICATE, SOLD_OUT, MISSING, THROTTLED = -1, -2, -3, -4
LOAD_LOCK_SECONDS = 5
LOAD_WAIT_STEPS = 50  # x 10 ms: how long a request waits for another one's reload


@dataclass(frozen=True)
class Scripts:
    client: redis.Redis
    claim: object
    release: object
    load: object
    grab: object


@lru_cache(maxsize=4)
def _scripts(url: str) -> Scripts:
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)
    return Scripts(
        client,
        client.register_script(CLAIM_LUA),
        client.register_script(RELEASE_LUA),
        client.register_script(LOAD_LUA),
        client.register_script(GRAB_LUA),
    )


def enabled() -> bool:
    return bool(settings.DROPS_REDIS_URL)


def scripts() -> Scripts:
    return _scripts(settings.DROPS_REDIS_URL)


def keys(drop_key: str) -> list[str]:
    return [f"drops:{{{drop_key}}}:left", f"drops:{{{drop_key}}}:holders"]


def _lock_key(drop_key: str) -> str:
    return f"drops:{{{drop_key}}}:loading"


def claim(*, drop_key: str, member_id: int, limit: int, reload) -> int:
    """-1 already holds the limit, -2 none left, n >= 1 won (the member now holds n). `reload()`
    returns (left, {member_id: count}) from the database when Redis has no state for the drop.
    Raises redis.RedisError when Redis cannot be used (the caller takes the database path)."""
    s = scripts()
    return _run_reloading(
        drop_key, lambda attempt: s.claim(keys=keys(drop_key), args=[member_id, limit]), reload
    )


def grab(*, drop_key: str, member_id: int, limit: int, ip: str, throttle: dict, reload) -> int:
    """`claim` with the throttles in the same script: -4 throttled (per member or per IP within
    `throttle["seconds"]`), else as `claim`."""
    s = scripts()
    k = [*keys(drop_key), f"drops:{{{drop_key}}}:rate:m:{member_id}", f"drops:{{{drop_key}}}:rate:ip:{ip}"]
    head = [member_id, limit, throttle["member"], throttle["ip"], throttle["seconds"]]
    return _run_reloading(
        drop_key, lambda attempt: s.grab(keys=k, args=[*head, "1" if attempt == 0 else "0"]), reload
    )


def _run_reloading(drop_key: str, run, reload) -> int:
    s = scripts()
    for attempt in range(LOAD_WAIT_STEPS):
        result = run(attempt)
        if result != MISSING:
            return result
        if s.client.set(_lock_key(drop_key), "1", nx=True, ex=LOAD_LOCK_SECONDS):
            try:
                left, holders = reload()
                load(drop_key=drop_key, left=left, holders=holders, replace=False)
            finally:
                s.client.delete(_lock_key(drop_key))
        else:
            time.sleep(0.01)
    raise redis.RedisError("drop state not reloaded in time")


def release(*, drop_key: str, member_id: int, uncount_member: bool = True, pool: str = "back") -> None:
    """`pool`: "back" (one more ticket free), "keep", or "none" (the database is sold out)."""
    s = scripts()
    s.release(keys=keys(drop_key), args=[member_id, "1" if uncount_member else "0", pool])


def load(*, drop_key: str, left: int, holders: dict[int, int], replace: bool = True) -> None:
    args: list = ["replace" if replace else "missing", max(left, 0), settings.DROPS_REDIS_TTL_SECONDS]
    for member_id, count in holders.items():
        args += [member_id, count]
    scripts().load(keys=keys(drop_key), args=args)


def read(*, drop_key: str) -> tuple[int | None, dict[int, int]]:
    """(tickets left or None when Redis has no state, holders) as Redis has them."""
    client = scripts().client
    left_key, holders_key = keys(drop_key)
    pipe = client.pipeline(transaction=True)
    pipe.get(left_key)
    pipe.hgetall(holders_key)
    left, holders = pipe.execute()
    return (
        None if left is None else int(left),
        {int(m): int(c) for m, c in holders.items() if int(c) > 0},
    )


def left(*, drop_key: str) -> int | None:
    value = scripts().client.get(keys(drop_key)[0])
    return None if value is None else int(value)


def forget(*, drop_key: str) -> None:
    scripts().client.delete(*keys(drop_key))
