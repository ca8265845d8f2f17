# Caddy with linkgate, built on Caddy's documented pattern for plugins:
# xcaddy in Caddy's builder image, the binary copied into Caddy's image.
#
#   docker build -t linkgate .
#   docker run -p 8080:8080 -v linkgate-data:/data linkgate
#
# The image serves the root Caddyfile (mount your own over
# /etc/caddy/Caddyfile) and keeps the embedded store under /data; set
# LINKGATE_DATABASE and name it in the Caddyfile for PostgreSQL. The
# versions are the Caddy of go.mod; the xcaddy line is xcaddy.txt's, with
# this checkout at /src.
FROM caddy:2.11.9-builder AS builder
COPY . /src
RUN xcaddy build v2.11.9 --output /usr/bin/caddy --with github.com/linkgate/linkgate@v0.0.0-00010101000000-000000000000=/src

FROM caddy:2.11.9
COPY --from=builder /usr/bin/caddy /usr/bin/caddy
COPY Caddyfile /etc/caddy/Caddyfile
