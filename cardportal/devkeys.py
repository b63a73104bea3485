"""The fixed development keys: accepted with DEBUG on (cardportal/settings.py) and used by the test
suite (cardportal/settings_test.py); production refuses to start without its own keys."""

SECRET_KEY = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
PII_KEY = "ZGV2LW9ubHktcGlpLWtleS1ub3QtZm9yLXByb2QhISE="  # 32 bytes, urlsafe b64
PII_HASH_KEY = "dev-only-pii-hash-key"
