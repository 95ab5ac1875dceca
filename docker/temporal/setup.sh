#!/bin/sh
# One-shot setup for the compose `temporal` profile, run in the temporalio/admin-tools image:
#   setup.sh schema     create the PostgreSQL databases and bring both schemas up to date
#   setup.sh namespace  wait for the frontend, then create $TEMPORAL_NAMESPACE (if missing)
# Both are idempotent, so `docker compose up` may run them again.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${POSTGRES_PWD:?}" "${DB_PORT:=5432}"
: "${TEMPORAL_ADDRESS:=temporal:7233}" "${TEMPORAL_NAMESPACE:=default}"
schema_dir=/etc/temporal/schema/postgresql/v12

sql() {  # database, then temporal-sql-tool arguments
  db="$1"; shift
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" \
    -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" --db "$db" "$@"
}

case "${1:-}" in
  schema)
    # compose starts this once PostgreSQL answers pg_isready (depends_on: service_healthy).
    for db in temporal temporal_visibility; do
      dir="$schema_dir/temporal/versioned"
      [ "$db" = temporal_visibility ] && dir="$schema_dir/visibility/versioned"
      # An existing database is fine (a restart); any other failure shows in setup-schema.
      sql "$db" create-database 2>/dev/null || echo "setup: database $db exists"
      sql "$db" setup-schema -v 0.0
      sql "$db" update-schema -d "$dir"
    done
    echo "setup: schemas ready"
    ;;
  namespace)
    attempt=0
    until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
      attempt=$((attempt + 1))
      if [ $attempt -ge 120 ]; then echo "setup: no Temporal frontend at $TEMPORAL_ADDRESS" >&2; exit 1; fi
      sleep 1
    done
    if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" \
         --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
      echo "setup: namespace $TEMPORAL_NAMESPACE exists"
    else
      temporal operator namespace create --address "$TEMPORAL_ADDRESS" \
        --namespace "$TEMPORAL_NAMESPACE" --retention 72h
      echo "setup: namespace $TEMPORAL_NAMESPACE created"
    fi
    ;;
  *) echo "usage: setup.sh schema|namespace" >&2; exit 2 ;;
esac
