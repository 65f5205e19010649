"""Alert notification channels, each speaking its real protocol, one module each:

- mail: SMTP, a plain-text `EmailMessage` (and digests);
- slack: an incoming-webhook POST with Block Kit `blocks` and a `text` fallback;
- sms: Twilio's REST shape, `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form fields
  `To`, `From`, `Body`, HTTP basic auth (sid, token); one request per recipient;
- webhook: a JSON POST signed with HMAC-SHA256 over `"{timestamp}.{body}"`
  (`X-Monitor-Timestamp`, `X-Monitor-Signature: sha256=<hex>`); receivers check it with
  `verify_signature`.

`base` holds what they share: the notification, the channel protocol, the delivery error, the
HTTP transport protocol. The transports themselves (requests, smtplib) are adapters:
adapters/http_transport.py and adapters/smtp.py.
Secrets are `SecretStr` settings (bound from Secret Manager in production); they never appear
in logs, errors or reprs."""
