"""PowerDNS Authoritative: the zones and RRsets of hosted DNS, through its HTTP API.

- names.py, txt.py, content.py, rrsets.py: pure (no I/O): canonical names, per-type content in
  PowerDNS's syntax, TXT quoting and splitting, RRsets, change sets and the drift diff;
- api.py: the provider (zones marked with this plane's id in PowerDNS's `account` field);
- process.py, files.py: the `pdns_server` Hostplane runs itself when none is configured;
- acme.py: ACME DNS-01's `_acme-challenge` TXT records, published and confirmed over DNS;
- dnsprobe.py: one DNS question, for readiness, `hostctl doctor` and DNS-01's confirmation.
"""
