//! hoist-proxy: the reverse proxy hoist runs in front of proxied roles.
