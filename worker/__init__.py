"""sla-worker: event-driven SLA monitoring for NHS informatics services."""
