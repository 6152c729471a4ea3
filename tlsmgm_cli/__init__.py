"""tlsmgm: see, check and test OpenSIPS tls_mgm TLS domains before OpenSIPS does."""

__version__ = "0.1.0"
