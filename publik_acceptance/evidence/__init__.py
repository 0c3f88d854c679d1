"""Evidence: probes (DNS, TLS, HTTP, SSH, PostgreSQL), the concurrent prober, server facts."""
