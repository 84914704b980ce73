"""OGC SensorThings API 1.1 over the sensor registry (iot.models): entity sets as SQL over the registry's tables,
query options compiled to parameterised SQL, writes through the same ingestion as the HTTP and MQTT feeds."""
