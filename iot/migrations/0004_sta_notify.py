from django.db import migrations

# New observations are announced on the channel sta_observations (the SensorThings MQTT bridge forwards them to
# v1.1/Datastreams(id)/Observations), whatever path wrote them. One small message per device and quantity of each
# INSERT statement — its time span and its arrival span — never one per row: a 10,000-reading batch costs one
# aggregate over the statement's new rows, and a payload stays far below NOTIFY's 8,000-byte limit.
NOTIFY = """
CREATE FUNCTION iot_observation_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('sta_observations', json_build_array(device_id, quantity_id, t0, t1, r0, r1)::text)
    FROM (SELECT device_id, quantity_id, min(observed_at) AS t0, max(observed_at) AS t1,
                 min(received_at) AS r0, max(received_at) AS r1
          FROM new_rows GROUP BY device_id, quantity_id) g;
    RETURN NULL;
END $$;
CREATE TRIGGER iot_observation_announce AFTER INSERT ON iot_observation
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION iot_observation_announce();
"""
UNDO = """DROP TRIGGER IF EXISTS iot_observation_announce ON iot_observation;
DROP FUNCTION IF EXISTS iot_observation_announce();"""


class Migration(migrations.Migration):
    dependencies = [("iot", "0003_sensorthings")]
    operations = [migrations.RunSQL(NOTIFY, UNDO)]
