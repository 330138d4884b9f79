-- The keeper purges expired metadata (search results) by expiry.
CREATE INDEX meta_cache_expires ON meta_cache (expires_at);
