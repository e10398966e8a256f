"""DNS zones and their records (RRsets), hosted on PowerDNS: a zone belongs to a tenant."""
