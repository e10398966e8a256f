#!/bin/sh
# Builds Hostplane's container images locally, without any registry: a Debian rootfs made with
# debootstrap, imported with `docker import`. The rootfs tarballs are kept in
# HOSTPLANE_IMAGE_CACHE (default /var/cache/hostplane/images, shared by every clone on the
# machine), keyed by a hash of this script, so a later run only imports them (seconds).
#   hostplane/php-fpm:8.2   PHP-FPM on :9000, WordPress's files at /usr/src/wordpress
#   hostplane/nginx:1.22    nginx-light
# Honours DOCKER_HOST (a private engine, as the tests use).
set -eu

cd "$(dirname "$0")/.."
cache=${HOSTPLANE_IMAGE_CACHE:-/var/cache/hostplane/images}
mkdir -p "$cache"
hash=$(sha256sum scripts/build-images.sh | cut -c1-12)
mirror=$( (grep -E '^deb\s' /etc/apt/sources.list 2>/dev/null | awk '{for(i=2;i<=NF;i++) if($i~/^(https?|file):/){print $i;exit}}'; \
           cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/{print $2}') | grep -v security | head -1)
mirror=${mirror:-http://deb.debian.org/debian}

fail() { echo "build-images: $*" >&2; exit 1; }
command -v docker >/dev/null || fail "docker is not installed (make install-test installs docker.io)"
docker info >/dev/null 2>&1 || fail "no Docker engine answers at ${DOCKER_HOST:-the default socket}"

have_image() {  # image tag, build hash
  [ "$(docker image inspect -f '{{index .Config.Labels "hostplane.build"}}' "$1" 2>/dev/null)" = "$2" ]
}

build_php() {
  out="$cache/php-$hash.tar"
  [ -s "$out" ] && return 0
  [ -d /usr/share/wordpress/wp-includes ] || fail "Debian's wordpress package is missing (make install)"
  root=$(mktemp -d /var/tmp/hostplane-rootfs-php.XXXXXX)
  debootstrap --variant=minbase \
    --include=php8.2-fpm,php8.2-mysql,php8.2-gd,php8.2-curl,php8.2-xml,php8.2-mbstring,php8.2-zip \
    bookworm "$root" "$mirror" > "$cache/php-debootstrap.log" 2>&1 \
    || { rm -rf "$root"; fail "debootstrap for php failed, see $cache/php-debootstrap.log"; }
  sed -i 's|^listen = .*|listen = 0.0.0.0:9000|; s|^;clear_env = no|clear_env = no|' \
    "$root/etc/php/8.2/fpm/pool.d/www.conf"
  mkdir -p "$root/usr/src/wordpress"
  cp -rL /usr/share/wordpress/. "$root/usr/src/wordpress/"
  rm -f "$root/usr/src/wordpress/wp-config.php" "$root/usr/src/wordpress/.htaccess"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$out.partial" . && mv "$out.partial" "$out"
  rm -rf "$root"
}

build_nginx() {
  out="$cache/nginx-$hash.tar"
  [ -s "$out" ] && return 0
  root=$(mktemp -d /var/tmp/hostplane-rootfs-nginx.XXXXXX)
  debootstrap --variant=minbase --include=nginx-light bookworm "$root" "$mirror" \
    > "$cache/nginx-debootstrap.log" 2>&1 \
    || { rm -rf "$root"; fail "debootstrap for nginx failed, see $cache/nginx-debootstrap.log"; }
  rm -f "$root/etc/nginx/sites-enabled/default"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$out.partial" . && mv "$out.partial" "$out"
  rm -rf "$root"
}

if have_image hostplane/php-fpm:8.2 "$hash" && have_image hostplane/nginx:1.22 "$hash"; then
  echo "images are up to date ($hash)"
  exit 0
fi

echo "building rootfs for hostplane/php-fpm:8.2 and hostplane/nginx:1.22 (cached in $cache)"
build_php & php_pid=$!
build_nginx & nginx_pid=$!
wait $php_pid || fail "php image rootfs failed"
wait $nginx_pid || fail "nginx image rootfs failed"

echo "importing hostplane/php-fpm:8.2"
docker import -c "LABEL hostplane.build=$hash" -c 'EXPOSE 9000' \
  -c 'CMD ["sh","-c","mkdir -p /run/php && exec php-fpm8.2 --nodaemonize --force-stderr"]' \
  "$cache/php-$hash.tar" hostplane/php-fpm:8.2 >/dev/null
echo "importing hostplane/nginx:1.22"
docker import -c "LABEL hostplane.build=$hash" \
  -c 'CMD ["nginx","-g","daemon off;"]' \
  "$cache/nginx-$hash.tar" hostplane/nginx:1.22 >/dev/null
echo "images ready ($hash)"
