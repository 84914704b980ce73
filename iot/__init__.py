"""IoT sensor feeds (物聯網感測器): the device registry, observation ingestion over HTTP and MQTT, latest
values, time series and threshold alerts."""
