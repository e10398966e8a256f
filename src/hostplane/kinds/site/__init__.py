"""Sites: static, PHP and WordPress, on the local or the Docker runtime."""
