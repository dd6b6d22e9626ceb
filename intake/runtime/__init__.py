"""Running the service: logs (scrubbed), /healthz /readyz /metrics, gauges."""
