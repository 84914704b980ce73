# The `postgis` service's first start (docker-entrypoint-initdb.d, sourced once when the image creates the cluster):
# what the `postgis-standby` service streams from — a role that may only replicate, its slot (the primary keeps the
# WAL the standby has not received, up to max_slot_wal_keep_size), and the pg_hba.conf line that lets it in.
# On a cluster made before this file was mounted, run it once by hand:
#   docker compose exec postgis sh -c '. /docker-entrypoint-initdb.d/50-replication.sh'
psql -v ON_ERROR_STOP=1 -v password="$POSTGRES_REPLICATION_PASSWORD" --username "$POSTGRES_USER" \
    --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot('civgis_standby');
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -c "SELECT pg_reload_conf()"
