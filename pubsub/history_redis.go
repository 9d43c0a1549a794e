package pubsub

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pawl-wamp/pawl/wamp"
)

// RedisStore is a HistoryStore in Redis, for routers that share one backlog: every router
// appends to the same logs and reads all of them.
//
// Keys, per realm (the realm in braces keeps a realm's keys in one Redis Cluster slot):
//
//	<prefix>{<realm>}:seq            counter of the realm's events
//	<prefix>{<realm>}:events         hash Seq → event
//	<prefix>{<realm>}:index          sorted set of Seq (score Seq): the order of events
//	<prefix>{<realm>}:log:<rule>     sorted set of a rule's Seq (score Seq), for its count limit
//	<prefix>{<realm>}:age:<rule>     sorted set of a rule's Seq (score: time in ms), for max_age
//
// An append and its trimming run as one Lua script, so routers sharing the store never see a
// half-written event.
type RedisStore struct {
	client *redis.Client
	prefix string
}

// RedisOptions locate a Redis server.
type RedisOptions struct {
	Addr     string `yaml:"addr"` // host:port
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	DB       int    `yaml:"db"`
	// Prefix starts every key (default "pawl:history:").
	Prefix string `yaml:"prefix"`
}

// OpenRedisStore connects to Redis and checks that it answers.
func OpenRedisStore(ctx context.Context, opts RedisOptions) (*RedisStore, error) {
	if opts.Addr == "" {
		return nil, fmt.Errorf("history store: redis address missing")
	}
	if opts.Prefix == "" {
		opts.Prefix = "pawl:history:"
	}
	client := redis.NewClient(&redis.Options{Addr: opts.Addr, Username: opts.Username, Password: opts.Password,
		DB: opts.DB, DisableIdentity: true})
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("history store: redis %s: %w", opts.Addr, err)
	}
	return &RedisStore{client: client, prefix: opts.Prefix}, nil
}

// Close closes the connections to Redis.
func (s *RedisStore) Close() error { return s.client.Close() }

// Ping checks that Redis answers: for readiness checks (HistoryPinger).
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

func (s *RedisStore) key(realm wamp.URI, suffix string) string {
	return s.prefix + "{" + string(realm) + "}:" + suffix
}

// appendScript stores one event and trims its log.
// KEYS: seq, events, index, log, age. ARGV: data, time (ms), limit, cutoff (ms, 0: none).
var appendScript = redis.NewScript(`
local seq = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], seq, ARGV[1])
redis.call('ZADD', KEYS[3], seq, seq)
redis.call('ZADD', KEYS[4], seq, seq)
redis.call('ZADD', KEYS[5], tonumber(ARGV[2]), seq)
local function drop(ids)
  for _, id in ipairs(ids) do
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[4], id)
    redis.call('ZREM', KEYS[5], id)
  end
end
local limit = tonumber(ARGV[3])
if limit > 0 then
  local n = redis.call('ZCARD', KEYS[4])
  if n > limit then
    drop(redis.call('ZRANGE', KEYS[4], 0, n - limit - 1))
  end
end
local cutoff = tonumber(ARGV[4])
if cutoff > 0 then
  drop(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', '(' .. cutoff))
end
return seq
`)

// Append stores the events with one pipelined script call each.
func (s *RedisStore) Append(ctx context.Context, realm wamp.URI, events []*HistoryEvent) error {
	now := time.Now()
	run := func(useSha bool) ([]*redis.Cmd, error) {
		pipe := s.client.Pipeline()
		cmds := make([]*redis.Cmd, len(events))
		for i, ev := range events {
			data, err := encodeHistoryEvent(ev)
			if err != nil {
				return nil, err
			}
			cutoff := int64(0)
			if ev.Keep.MaxAge > 0 {
				cutoff = now.Add(-ev.Keep.MaxAge).UnixMilli()
			}
			keys := []string{s.key(realm, "seq"), s.key(realm, "events"), s.key(realm, "index"),
				s.key(realm, "log:"+ev.Log), s.key(realm, "age:"+ev.Log)}
			args := []any{data, ev.Time.UnixMilli(), ev.Keep.Limit, cutoff}
			if useSha {
				cmds[i] = appendScript.EvalSha(ctx, pipe, keys, args...)
			} else {
				cmds[i] = appendScript.Eval(ctx, pipe, keys, args...)
			}
		}
		_, err := pipe.Exec(ctx)
		return cmds, err
	}
	cmds, err := run(true)
	if err != nil && strings.Contains(err.Error(), "NOSCRIPT") {
		// The script is not cached yet (or Redis restarted): send it in full, once.
		cmds, err = run(false)
	}
	if err != nil {
		return fmt.Errorf("history store: redis append: %w", err)
	}
	for i, cmd := range cmds {
		seq, err := cmd.Int64()
		if err != nil {
			return fmt.Errorf("history store: redis append: %w", err)
		}
		events[i].Seq = uint64(seq)
	}
	return nil
}

// scanPage is how many events Scan reads per round trip.
const scanPage = 256

// Scan reads the realm's events page by page. Events trimmed between pages are skipped.
func (s *RedisStore) Scan(ctx context.Context, realm wamp.URI, reverse bool, fn func(*HistoryEvent) bool) error {
	index, events := s.key(realm, "index"), s.key(realm, "events")
	bound := ""
	for {
		zr := redis.ZRangeBy{Min: "-inf", Max: "+inf", Count: scanPage}
		var seqs []string
		var err error
		if reverse {
			if bound != "" {
				zr.Max = "(" + bound
			}
			//lint:ignore SA1019 ZREVRANGEBYSCORE works on every Redis; ZRANGE ... BYSCORE REV needs 6.2
			seqs, err = s.client.ZRevRangeByScore(ctx, index, &zr).Result()
		} else {
			if bound != "" {
				zr.Min = "(" + bound
			}
			//lint:ignore SA1019 ZRANGEBYSCORE works on every Redis; ZRANGE ... BYSCORE needs 6.2
			seqs, err = s.client.ZRangeByScore(ctx, index, &zr).Result()
		}
		if err != nil {
			return fmt.Errorf("history store: redis scan: %w", err)
		}
		if len(seqs) == 0 {
			return nil
		}
		values, err := s.client.HMGet(ctx, events, seqs...).Result()
		if err != nil {
			return fmt.Errorf("history store: redis scan: %w", err)
		}
		for i, v := range values {
			data, ok := v.(string)
			if !ok {
				continue // trimmed meanwhile
			}
			ev, err := decodeHistoryEvent([]byte(data))
			if err != nil {
				return fmt.Errorf("history store: redis event %s: %w", seqs[i], err)
			}
			ev.Seq, _ = strconv.ParseUint(seqs[i], 10, 64)
			if !fn(ev) {
				return nil
			}
		}
		if len(seqs) < scanPage {
			return nil
		}
		bound = seqs[len(seqs)-1]
	}
}
