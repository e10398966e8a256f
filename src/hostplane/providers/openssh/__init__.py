"""OpenSSH sshd as the tenants' SFTP server: its whole config generated from the database."""
