#!/bin/sh
# Command of the nginx container (compose.yml): HTTPS when certificates are mounted, else HTTP.
# Certificates: ./devops/certs/fullchain.pem and privkey.pem on the host, /etc/nginx/certs here.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
certs="${NGINX_CERTS_DIR:-/etc/nginx/certs}"

if [ -r "$certs/fullchain.pem" ] && [ -r "$certs/privkey.pem" ]; then
    conf="$here/nginx-tls.conf"
    echo "nginx: certificates found in $certs: serving HTTPS on 443, redirecting 80"
elif [ -e "$certs/fullchain.pem" ] || [ -e "$certs/privkey.pem" ]; then
    echo "nginx: $certs needs both fullchain.pem and privkey.pem, readable; refusing to start" >&2
    exit 1
else
    conf="$here/nginx.conf"
    echo "nginx: no certificates in $certs: serving plain HTTP on 80"
fi

nginx -t -q -c "$conf"
exec nginx -c "$conf" -g 'daemon off;'
