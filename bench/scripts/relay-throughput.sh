#!/usr/bin/env bash
# Relay throughput to Kafka: N events waiting in the outbox of an empty
# PostgreSQL database, one `ontask serve --role relay`, and the rate at which it
# publishes them: from the first move of the relay's position to the last (so
# start-up, topic creation and the first batch are not counted). It creates
# tasks' events directly in SQL: the relay only reads and publishes them.
#
#   DATABASE_URL=postgres://.../empty KAFKA_BROKERS=127.0.0.1:9092 N=50000 \
#     bench/scripts/relay-throughput.sh
#
# Needs target/release/ontask (cargo build --release -p ontask-ontask) and psql.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DATABASE_URL:?an empty PostgreSQL database}" "${KAFKA_BROKERS:?bootstrap servers}"
N=${N:-50000}
bin=target/release/ontask
run=$(date +%s)

"$bin" migrate --database-url "$DATABASE_URL"
psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO events (event_id, event_type, event_version, occurred_at, source, user_id, task_id, data, metadata)
SELECT gen_random_uuid()::text, 'task.updated', '1', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       'bench', '0190f1a2-0000-7000-8000-000000000001',
       -- 1000 tasks, so the events spread over partitions by key
       '0190f1a2-0000-7000-8000-' || lpad((i % 1000)::text, 12, '0'),
       '{"task": {"title": "benchmark task"}, "changes": ["title"]}', '{"correlation_id": "bench"}'
FROM generate_series(1, $N) AS i;
SQL
echo "$N events in the outbox; starting the relay"

ONTASK_BUS__KIND=kafka ONTASK_KAFKA__BROKERS="$KAFKA_BROKERS" ONTASK_LOG=warn \
    ONTASK_BUS__TOPIC_TASK_EVENTS="bench$run.tasks.events.v1" ONTASK_BUS__TOPIC_TASK_UPDATES="bench$run.tasks.updates.v1" \
    ONTASK_BUS__TOPIC_REMINDERS="bench$run.reminders.due.v1" \
    "$bin" serve --role relay --listen 127.0.0.1:0 --database-url "$DATABASE_URL" >/dev/null &
relay=$!
trap 'kill $relay 2>/dev/null || true' EXIT
position() { psql "$DATABASE_URL" -tA -F ' ' -c 'SELECT seq, published_at FROM relay_position'; }
read -r first first_ms < <(position)
until [ "$first" -gt 0 ]; do
    kill -0 $relay || { echo "the relay exited" >&2; exit 1; }
    sleep 0.02
    read -r first first_ms < <(position)
done
head=$(psql "$DATABASE_URL" -tA -c 'SELECT max(seq) FROM events')
read -r last last_ms < <(position)
until [ "$last" = "$head" ]; do
    kill -0 $relay || { echo "the relay exited" >&2; exit 1; }
    sleep 0.1
    read -r last last_ms < <(position)
done
count=$((last - first)) ms=$((last_ms - first_ms))
# Each event goes to two topics (task events, and updates for realtime).
echo "relayed $count events in $ms ms: $(( count * 1000 / (ms > 0 ? ms : 1) )) events/s ($(( 2 * count * 1000 / (ms > 0 ? ms : 1) )) Kafka messages/s)"
